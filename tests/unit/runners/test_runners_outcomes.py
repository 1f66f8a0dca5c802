from __future__ import annotations

from uuid import uuid4

import pytest

from runner_core.outcomes import MessageResult, Outcome, QueueMessage, TaskOutcome


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
    assert not result.retryable
    assert not result.permanent


def test_one_retryable_failure_makes_the_message_retryable() -> None:
    result = MessageResult(
        message_id="m",
        tasks=(_task(Outcome.MOVED), _task(Outcome.FAILED, retryable=True), _task(Outcome.FAILED)),
    )
    assert not result.ok
    assert result.retryable
    assert not result.permanent


def test_only_permanent_failures_make_the_message_permanent() -> None:
    result = MessageResult(message_id="m", tasks=(_task(Outcome.MOVED), _task(Outcome.FAILED)))
    assert not result.ok
    assert not result.retryable
    assert result.permanent


def test_a_decode_error_is_permanent() -> None:
    result = MessageResult(message_id="m", tasks=(), error="message body is empty")
    assert not result.ok
    assert result.permanent
    assert not result.retryable


def test_last_attempt() -> None:
    assert QueueMessage("m", "{}", attempt=3, max_attempts=3).is_last_attempt
    assert not QueueMessage("m", "{}", attempt=2, max_attempts=3).is_last_attempt
    assert not QueueMessage("m", "{}", attempt=9).is_last_attempt


def test_outcome_values_are_the_wire_names() -> None:
    assert [o.value for o in Outcome] == ["moved", "held", "skipped", "failed"]
