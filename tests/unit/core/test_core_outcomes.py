from __future__ import annotations

from runner_core.outcomes import Outcome, QueueMessage


def test_last_attempt() -> None:
    assert QueueMessage("m", "{}", attempt=3, max_attempts=3).is_last_attempt
    assert not QueueMessage("m", "{}", attempt=2, max_attempts=3).is_last_attempt
    assert not QueueMessage("m", "{}", attempt=9).is_last_attempt


def test_outcome_values_are_the_wire_names() -> None:
    assert [o.value for o in Outcome] == ["moved", "held", "skipped", "failed"]
