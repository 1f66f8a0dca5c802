"""The AWS producer's optional queue-depth watermark (RUNNER_DISPATCH_MAX_QUEUE_DEPTH), on moto's SQS."""

from __future__ import annotations

import pytest

from encord_emulator.testing import RunningEmulator
from functions import aws, ledgers
from tests.integration.functions.fn_harness import Moto, lambda_context


def _queue(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> str:
    url = str(moto.client("sqs").create_queue(QueueName="tasks")["QueueUrl"])
    monkeypatch.setenv("RUNNER_QUEUE_URL", url)
    monkeypatch.delenv("RUNNER_LEDGER_TABLE", raising=False)
    monkeypatch.delenv("RUNNER_LEDGER_COLLECTION", raising=False)
    ledgers.clear_cache()
    return url


def test_above_the_watermark_nothing_is_listed(
    emu: RunningEmulator, moto: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _queue(moto, monkeypatch)
    for index in range(3):
        moto.client("sqs").send_message(QueueUrl=url, MessageBody=f"already waiting {index}")
    monkeypatch.setenv("RUNNER_DISPATCH_MAX_QUEUE_DEPTH", "2")
    emu.reset_counters()

    answer = aws.dispatch({}, lambda_context())

    assert answer["skipped"] == "queue depth above watermark"
    assert answer["queue_depth"] == 3
    assert emu.requests("GET /v2/public/projects/{project}/workflow/stages/{stage}/tasks") == 0


def test_at_or_below_the_watermark_the_producer_runs(
    emu: RunningEmulator, moto: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    _queue(moto, monkeypatch)
    monkeypatch.setenv("RUNNER_DISPATCH_MAX_QUEUE_DEPTH", "2")
    answer = aws.dispatch({}, lambda_context())
    waiting = len(emu.state.tasks_in_stage(emu.project_hash, "pre-label"))
    assert answer["tasks"] == waiting > 0
