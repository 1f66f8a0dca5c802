"""Both clouds print one JSON line per task outcome with the same fields, filled in by the real runner."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from encord_emulator.testing import RunningEmulator
from functions import aws, structured_logs
from runner_core.producer import build_messages
from tests.integration.functions import fn_agents
from tests.integration.functions.fn_harness import Moto, lambda_context, receive_event, title_of
from tests.unit.functions._functions_fakes import ff_client

EVENTS = Path(__file__).parents[2] / "events"
SOURCE = str(Path(__file__).parents[3] / "functions" / "gcp.py")
SHARED = (
    "project_hash",
    "stage_uuid",
    "task_uuid",
    "data_hash",
    "message_id",
    "attempt",
    "outcome",
    "duration_ms",
    "cold_start",
)


def _task_lines(stdout: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "task_outcome"]


def _check(line: dict[str, Any], *, body: str, message_id: str, cold_start: bool) -> None:
    envelope = json.loads(body)
    task = envelope["tasks"][0]
    assert {key: line.get(key) for key in ("project_hash", "task_uuid", "data_hash", "message_id", "outcome")} == {
        "project_hash": envelope["project_hash"],
        "task_uuid": task["uuid"],
        "data_hash": task["data_hash"],
        "message_id": message_id,
        "outcome": "moved",
    }
    assert line["stage_uuid"] == envelope["stage_uuid"]
    assert line["attempt"] == 1
    assert line["cold_start"] is cold_start
    assert isinstance(line["duration_ms"], int | float)
    # The runner counts the Encord requests of the batch the task ran in: at least the proceed call.
    assert isinstance(line.get("encord_requests"), int)
    assert line["encord_requests"] >= 1


def test_aws_and_gcp_task_lines_carry_the_shared_fields(
    emu: RunningEmulator,
    moto: Moto,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    by_title = {title_of(m): m for m in build_messages(fn_agents.build_runner(emu.project_hash))}

    # AWS, on a cold instance: the records as Powertools' own formatter writes them (its handler holds the stdout of
    # import time, which capsys does not see).
    monkeypatch.setattr(structured_logs, "_cold", True)
    sqs = moto.client("sqs")
    queue_url = str(sqs.create_queue(QueueName="log-fields")["QueueUrl"])
    sqs.send_message(QueueUrl=queue_url, MessageBody=by_title["bright-00.png"].body)
    event = receive_event(sqs, queue_url, 1)
    with caplog.at_level("INFO"):
        assert aws.consume(event, lambda_context()) == {"batchItemFailures": []}
    formatter = aws.logger.registered_formatter
    aws_lines = _task_lines("\n".join(formatter.format(record) for record in caplog.records))
    assert len(aws_lines) == 1
    _check(
        aws_lines[0], body=by_title["bright-00.png"].body, message_id=event["Records"][0]["messageId"], cold_start=True
    )

    # GCP (Cloud Logging's JSON on stdout), now warm.
    raw = json.loads((EVENTS / "pubsub_push_raw.json").read_text())
    raw["message"]["data"] = base64.b64encode(by_title["bright-01.png"].body.encode()).decode()
    client = ff_client(SOURCE, "consume_http", "http")
    capsys.readouterr()
    assert client.post("/", json=raw).status_code == 204
    gcp_lines = _task_lines(capsys.readouterr().out)
    assert len(gcp_lines) == 1
    _check(gcp_lines[0], body=by_title["bright-01.png"].body, message_id=raw["message"]["messageId"], cold_start=False)
    assert gcp_lines[0]["severity"] == "INFO"
    # Same field names on both clouds (the envelope keys around them differ: level/severity, timestamp/time...).
    assert set(SHARED) | {"encord_requests"} <= set(aws_lines[0]) & set(gcp_lines[0])
