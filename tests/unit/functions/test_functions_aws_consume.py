"""The SQS handler's mapping from per-message results to a partial batch response (runner stubbed: pure logic).

The real runner and emulator are exercised in tests/integration/functions.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from awslambdaric.lambda_context import LambdaContext

from functions import aws, structured_logs
from tests.unit.functions._functions_fakes import ScriptedRunner, install_scripted_runner

EVENTS = Path(__file__).parents[2] / "events"


def _context(remaining_s: float = 60.0) -> LambdaContext:
    return LambdaContext("req-1", None, None, int((time.time() + remaining_s) * 1000), "arn:aws:lambda:fn")


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> ScriptedRunner:
    fake = install_scripted_runner(monkeypatch)
    monkeypatch.delenv("RUNNER_DLQ_URL", raising=False)
    monkeypatch.delenv("ENCORD_SSH_KEY_SECRET_ARN", raising=False)
    return fake


def _event(name: str, scripts: list[str]) -> dict[str, Any]:
    golden = json.loads((EVENTS / name).read_text())
    template = golden["Records"][0]
    records = []
    for index, script in enumerate(scripts):
        record = copy.deepcopy(template)
        record["messageId"] = f"m{index}"
        record["body"] = json.dumps({"script": script})
        record["attributes"]["ApproximateReceiveCount"] = str(index + 1)
        if "MessageGroupId" in record["attributes"]:
            record["attributes"]["MessageGroupId"] = "g-odd" if index % 2 else "g-even"
        records.append(record)
    return {"Records": records}


def test_failed_records_are_reported_exactly_and_all_go_through_one_call(runner: ScriptedRunner) -> None:
    event = _event("sqs_standard.json", ["moved", "retry", "permanent", "decode", "routed", "moved"])
    response = aws.consume(event, _context())
    assert response == {"batchItemFailures": [{"itemIdentifier": i} for i in ("m1", "m2", "m3")]}
    assert len(runner.calls) == 1
    messages, deadline = runner.calls[0]
    assert [m.attempt for m in messages] == [1, 2, 3, 4, 5, 6]
    assert all(m.max_attempts == 5 for m in messages)
    assert deadline is not None
    assert deadline < time.monotonic() + 60 - 9


def test_everything_failing_is_still_a_partial_response(runner: ScriptedRunner) -> None:
    response = aws.consume(_event("sqs_standard.json", ["retry", "retry"]), _context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]}


def test_fifo_reports_the_later_records_of_a_failed_group(runner: ScriptedRunner) -> None:
    # groups: m0 even, m1 odd, m2 even, m3 odd; m0 fails so m2 (same group, later) is reported too.
    response = aws.consume(_event("sqs_fifo.json", ["retry", "moved", "moved", "moved"]), _context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m2"}]}


def test_short_remaining_time_still_leaves_half_for_work(runner: ScriptedRunner) -> None:
    aws.consume(_event("sqs_standard.json", ["moved"]), _context(remaining_s=4))
    _, deadline = runner.calls[0]
    assert deadline is not None
    assert 1.0 < deadline - time.monotonic() <= 2.0


def test_misconfiguration_retries_every_record(runner: ScriptedRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNNER_MAX_ATTEMPTS", "zero")
    response = aws.consume(_event("sqs_standard.json", ["moved", "moved"]), _context())
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["m0", "m1"]
    assert runner.calls == []


def test_one_log_line_per_task_with_the_shared_fields(
    runner: ScriptedRunner, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(structured_logs, "_cold", True)
    with caplog.at_level("INFO"):
        aws.consume(_event("sqs_standard.json", ["moved", "decode"]), _context())
    outcomes = [r for r in caplog.records if getattr(r, "event", None) == "task_outcome"]
    rejected = [r for r in caplog.records if getattr(r, "event", None) == "message_rejected"]
    assert len(outcomes) == 1
    assert len(rejected) == 1
    line = vars(outcomes[0])
    for key in (
        "project_hash",
        "stage_uuid",
        "task_uuid",
        "data_hash",
        "message_id",
        "attempt",
        "outcome",
        "duration_ms",
    ):
        assert key in line
    assert line["outcome"] == "moved"
    assert line["message_id"] == "m0"
    assert line["cold_start"] is True
    assert vars(rejected[0])["error"] == "message body is not JSON"


def test_a_dead_letter_queue_that_cannot_be_reached_never_fails_the_whole_batch(
    runner: ScriptedRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # No region anywhere: boto3 cannot even build the SQS client. The permanent record is left to the redrive
    # policy (reported failed); the good record is not redelivered.
    monkeypatch.setenv("RUNNER_DLQ_URL", "https://sqs.example.invalid/1/dlq")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    response = aws.consume(_event("sqs_standard.json", ["moved", "permanent"]), _context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_fifo_does_not_run_a_record_after_a_failure_in_its_group(runner: ScriptedRunner) -> None:
    # groups: m0 even, m1 odd, m2 even, m3 odd. m0 fails, so m2 must wait for it (FIFO order within a group):
    # it is reported for redelivery without running. The other group runs in order, batched across groups.
    response = aws.consume(_event("sqs_fifo.json", ["retry", "moved", "moved", "moved"]), _context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m2"}]}
    ran = [[m.message_id for m in messages] for messages, _ in runner.calls]
    assert ran == [["m0", "m1"], ["m3"]]
