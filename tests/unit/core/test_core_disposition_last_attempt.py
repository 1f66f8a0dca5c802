"""On a message's last attempt a retryable failure is dead-lettered by the consumer, with its reason."""

from __future__ import annotations

from uuid import uuid4

from runner_core.disposition import Disposition, decide
from runner_core.outcomes import MessageResult, Outcome, TaskOutcome


def _failed(*, retryable: bool, error: str) -> TaskOutcome:
    return TaskOutcome(
        task_uuid=uuid4(),
        data_hash=uuid4(),
        project_hash=None,
        stage_uuid=None,
        outcome=Outcome.FAILED,
        retryable=retryable,
        error=error,
    )


def test_a_retryable_failure_on_the_last_attempt_is_dead_lettered_with_its_reason() -> None:
    failed = _failed(retryable=True, error="ModelMissingError: weights not found")
    result = MessageResult(message_id="m", tasks=(failed,))
    assert decide(result).disposition is Disposition.RETRY
    last = decide(result, last_attempt=True)
    assert last.disposition is Disposition.DEAD_LETTER
    assert last.reason is not None
    assert f"{failed.task_uuid}: ModelMissingError: weights not found" in last.reason
    assert "last attempt" in last.reason


def test_the_last_attempt_changes_nothing_else() -> None:
    moved = TaskOutcome(task_uuid=uuid4(), data_hash=uuid4(), project_hash=None, stage_uuid=None, outcome=Outcome.MOVED)
    assert decide(MessageResult("m", (moved,)), last_attempt=True).disposition is Disposition.ACK
    permanent = MessageResult("m", (_failed(retryable=False, error="bad pathway"),))
    assert decide(permanent, last_attempt=True) == decide(permanent)
