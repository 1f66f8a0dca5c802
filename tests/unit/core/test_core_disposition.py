from __future__ import annotations

from uuid import uuid4

import pytest

from runner_core.disposition import MAX_REASON_CHARS, Decision, Disposition, decide, not_processed
from runner_core.outcomes import MessageResult, Outcome, TaskOutcome


def _task(outcome: Outcome, *, retryable: bool = False) -> TaskOutcome:
    return TaskOutcome(
        task_uuid=uuid4(),
        data_hash=uuid4(),
        project_hash=None,
        stage_uuid=None,
        outcome=outcome,
        retryable=retryable,
    )


@pytest.mark.parametrize("outcome", [Outcome.MOVED, Outcome.HELD, Outcome.SKIPPED])
def test_successful_outcomes_make_an_ok_message(outcome: Outcome) -> None:
    result = MessageResult(message_id="m", tasks=(_task(outcome), _task(Outcome.MOVED)))
    assert result.ok
    assert decide(result) == Decision(Disposition.ACK)


def test_one_retryable_failure_makes_the_message_retryable() -> None:
    result = MessageResult(
        message_id="m",
        tasks=(_task(Outcome.MOVED), _task(Outcome.FAILED, retryable=True), _task(Outcome.FAILED)),
    )
    assert not result.ok
    assert decide(result).disposition is Disposition.RETRY


def test_only_permanent_failures_make_the_message_permanent() -> None:
    result = MessageResult(message_id="m", tasks=(_task(Outcome.MOVED), _task(Outcome.FAILED)))
    assert not result.ok
    assert decide(result).disposition is Disposition.DEAD_LETTER


def test_a_decode_error_is_permanent() -> None:
    result = MessageResult(message_id="m", tasks=(), error="message body is empty")
    assert not result.ok
    assert decide(result) == Decision(Disposition.DEAD_LETTER, "message body is empty")


def test_a_task_routed_to_its_failure_pathway_is_acked() -> None:
    """DESIGN.md's outcome table: the failure is visible in Encord, so the message is not dead-lettered."""
    routed = TaskOutcome(uuid4(), uuid4(), None, None, Outcome.FAILED, error="x", routed_to_failure_pathway=True)
    result = MessageResult(message_id="m", tasks=(routed, _task(Outcome.MOVED)))
    assert not result.ok
    assert decide(result) == Decision(Disposition.ACK)


def test_the_reason_names_each_failed_task_and_is_clipped() -> None:
    failed = _task(Outcome.FAILED)
    long = TaskOutcome(uuid4(), uuid4(), None, None, Outcome.FAILED, error="e" * 2000)
    assert decide(MessageResult("m", (failed,))).reason == f"{failed.task_uuid}: failed"
    reason = decide(MessageResult("m", (long,))).reason
    assert reason is not None
    assert len(reason) == MAX_REASON_CHARS
    assert reason.endswith("…")


def test_a_message_the_core_did_not_process_is_retried() -> None:
    assert not_processed("runner error: RuntimeError") == Decision(Disposition.RETRY, "runner error: RuntimeError")
