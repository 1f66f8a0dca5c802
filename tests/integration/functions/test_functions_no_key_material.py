"""Whatever the functions log, on success and on every failure path, holds no key material."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from encord_emulator.testing import RunningEmulator
from functions import aws
from functions.structured_logs import CloudLoggingFormatter
from functions.webhook import sign
from runner_core.producer import build_messages
from tests.integration.functions import fn_agents
from tests.integration.functions.fn_harness import Moto, bad_bodies, lambda_context, receive_event, title_of
from tests.unit.functions._functions_fakes import ff_client

SOURCE = str(Path(__file__).parents[3] / "functions" / "gcp.py")
EVENTS = Path(__file__).parents[2] / "events"
WEBHOOK_SECRET = "whsec-do-not-log-0123456789abcdef"


def _key_fragments(key: str) -> list[str]:
    """Every base64 line of the key's body, and the raw key bytes inside it (as base64 of any offset would be)."""
    lines = [line.strip() for line in key.splitlines() if line.strip() and not line.startswith("-----")]
    raw = base64.b64decode("".join(lines))
    return [*lines, raw[-32:].hex(), base64.b64encode(raw[-48:]).decode()[:24]]


def test_logs_hold_no_key_material(
    emu: RunningEmulator,
    moto: Moto,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    sqs = moto.client("sqs")
    queue_url = str(sqs.create_queue(QueueName="tasks")["QueueUrl"])
    dlq_url = str(sqs.create_queue(QueueName="tasks-dlq")["QueueUrl"])
    by_title = {title_of(m): m for m in build_messages(fn_agents.build_runner(emu.project_hash))}

    # AWS: successes, an agent exception, three broken bodies, dead-lettering; key from Secrets Manager.
    arn = moto.client("secretsmanager").create_secret(Name="key", SecretString=emu.ssh_key)["ARN"]
    monkeypatch.delenv("ENCORD_SSH_KEY")
    monkeypatch.setenv("ENCORD_SSH_KEY_SECRET_ARN", arn)
    monkeypatch.setenv("RUNNER_DLQ_URL", dlq_url)
    for body in [
        by_title["bright-00.png"].body,
        by_title[fn_agents.RAISES_ON].body,
        *bad_bodies(emu.project_hash).values(),
    ]:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    response = aws.consume(receive_event(sqs, queue_url, 5), lambda_context())
    assert len(response["batchItemFailures"]) == 1

    # AWS webhook: a bad signature, then a good one.
    monkeypatch.setenv("RUNNER_QUEUE_URL", queue_url)
    monkeypatch.setenv("ENCORD_WEBHOOK_SECRET", WEBHOOK_SECRET)
    event: dict[str, Any] = json.loads((EVENTS / "lambda_function_url_webhook.json").read_text())
    assert aws.dispatch(event, lambda_context())["statusCode"] == 401
    notification = json.loads(event["body"])
    notification["payload"]["project_hash"] = emu.project_hash
    event["body"] = json.dumps(notification)
    event["headers"]["x-encord-signature"] = sign(
        event["body"].encode(), secret=WEBHOOK_SECRET, timestamp=event["headers"]["x-encord-timestamp"]
    )
    assert aws.dispatch(event, lambda_context())["statusCode"] == 401  # stale timestamp in the golden event

    # GCP: a success and a retryable failure, key from a mounted file.
    monkeypatch.delenv("ENCORD_SSH_KEY", raising=False)
    monkeypatch.delenv("ENCORD_SSH_KEY_SECRET_ARN")
    monkeypatch.setenv("ENCORD_SSH_KEY_FILE", str(emu.key_file))
    client = ff_client(SOURCE, "consume_http", "http")
    raw = json.loads((EVENTS / "pubsub_push_raw.json").read_text())
    for title, status in (("bright-05.png", 204), (fn_agents.RAISES_ON, 500)):
        raw["message"]["data"] = base64.b64encode(by_title[title].body.encode()).decode()
        assert client.post("/", json=raw).status_code == status

    # A key that is wrong: the error must say so without quoting it.
    monkeypatch.delenv("ENCORD_SSH_KEY_FILE")
    monkeypatch.setenv("ENCORD_SSH_KEY", emu.ssh_key.replace("b3BlbnNzaC1rZXktdjE", "AAAA"))
    from runner_core.client import clear_client_cache

    clear_client_cache()
    from functions import target

    target.clear_cache()
    monkeypatch.setitem(target._loaded, fn_agents.TARGET, fn_agents.build_runner(emu.project_hash))
    raw["message"]["data"] = base64.b64encode(by_title["bright-06.png"].body.encode()).decode()
    assert client.post("/", json=raw).status_code == 500

    powertools = aws.logger.registered_formatter
    cloud = CloudLoggingFormatter()
    rendered = "\n".join(
        [caplog.text, capsys.readouterr().out]
        + [powertools.format(record) for record in caplog.records]
        + [cloud.format(record) for record in caplog.records]
    )
    assert "task outcome" in rendered  # the logs were really captured
    leaks = [
        f"{record.name}:{record.levelname}"
        for record in caplog.records
        for fragment in [*_key_fragments(emu.ssh_key), WEBHOOK_SECRET]
        if fragment in powertools.format(record) or fragment in record.getMessage()
    ]
    assert leaks == []
    for fragment in [*_key_fragments(emu.ssh_key), WEBHOOK_SECRET]:
        assert fragment not in rendered
