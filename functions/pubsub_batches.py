"""Per-task semantics for Pub/Sub messages that hold many tasks.

A push delivery acks or nacks a whole message, but its tasks succeed and fail one by one. When only some tasks of
a message failed retryably, nacking would make Pub/Sub redeliver the siblings too (their agents would not run
again, but every redelivery pays the batch's Encord requests). So the consumer republishes the failed tasks as a
message of their own, carrying the attempts they already used in the `runner_prior_attempts` attribute, and acks the
original. Tasks that failed for good (permanently, or retryably on their last attempt) are dead-lettered on their
own, with their reason. A message whose tasks all failed retryably is nacked as a whole, so the subscription's
retry policy (its backoff) and `deliveryAttempt` count apply.

A task's attempt is `runner_prior_attempts + deliveryAttempt`: it reaches RUNNER_MAX_ATTEMPTS no later than the
subscription's `max_delivery_attempts`, so the consumer dead-letters with the reason before Pub/Sub would do it
without one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from runner_core.disposition import Decision, decide
from runner_core.outcomes import MessageResult, TaskOutcome

PRIOR_ATTEMPTS = "runner_prior_attempts"
_MAX_PRIOR_ATTEMPTS = 1000  # anything larger is not ours: read as 0 rather than trusted


def prior_attempts(attributes: Mapping[str, str]) -> int:
    """The attempts the message's tasks used before it was republished (0 for a message from the producer)."""
    raw = attributes.get(PRIOR_ATTEMPTS, "")
    if raw.isascii() and raw.isdigit() and int(raw) <= _MAX_PRIOR_ATTEMPTS:
        return int(raw)
    return 0


def attempt_of(attributes: Mapping[str, str], delivery_attempt: int | None) -> int:
    """This delivery's attempt for the message's tasks. `deliveryAttempt` is absent (or 0) unless the
    subscription has a dead-letter policy: that counts as the first delivery."""
    return prior_attempts(attributes) + max(1, delivery_attempt or 1)


@dataclass(frozen=True, slots=True)
class Split:
    """What to do with the failed tasks of a partly failed message. `retry` / `dead_letter` are message bodies
    holding only those tasks (None when there are none); `dead_letter_decision` carries the core's reason for them."""

    retry: bytes | None
    dead_letter: bytes | None
    dead_letter_decision: Decision
    retry_tasks: int
    dead_letter_tasks: int


def _gave_up(task: TaskOutcome, *, last_attempt: bool) -> bool:
    return not task.retryable or last_attempt


def _failed(result: MessageResult) -> list[TaskOutcome]:
    return [task for task in result.tasks if not task.ok and not task.routed_to_failure_pathway]


def split(body: bytes, result: MessageResult, *, last_attempt: bool) -> Split | None:
    """The failed tasks of `result`, as bodies of their own; None when the message is settled whole (every task
    done, a message-level error, or every task failed retryably with attempts left: nack it).

    Only the envelope v1 (what the producer builds) is split; an encord-agents body is settled whole.
    """
    failed = _failed(result)
    if result.error is not None or not failed:
        return None
    retry = [task for task in failed if not _gave_up(task, last_attempt=last_attempt)]
    dead = [task for task in failed if _gave_up(task, last_attempt=last_attempt)]
    if len(retry) == len(result.tasks):
        return None
    envelope = _envelope(body)
    if envelope is None:
        return None
    # The core's decision (runner_core.disposition.decide) for the dead-lettered tasks alone: its reason names them.
    dead_decision = decide(MessageResult(result.message_id, tuple(dead)), last_attempt=last_attempt)
    return Split(
        retry=_only(envelope, retry),
        # Every task gave up: the dead letter is the message as it came (byte for byte, for people and redrives).
        dead_letter=body if len(dead) == len(result.tasks) else _only(envelope, dead),
        dead_letter_decision=dead_decision,
        retry_tasks=len(retry),
        dead_letter_tasks=len(dead),
    )


def _envelope(body: bytes) -> dict[str, object] | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list) or "version" not in data:
        return None
    return data


def _uuid(value: object) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


def _only(envelope: Mapping[str, object], tasks: list[TaskOutcome]) -> bytes | None:
    """The envelope with only `tasks` (in their original order), compact as the producer writes it."""
    if not tasks:
        return None
    wanted = {task.task_uuid for task in tasks}
    all_tasks = envelope["tasks"]
    assert isinstance(all_tasks, list)  # checked by _envelope
    kept = [task for task in all_tasks if isinstance(task, dict) and _uuid(task.get("uuid")) in wanted]
    return json.dumps({**envelope, "tasks": kept}, separators=(",", ":")).encode()


__all__ = ["PRIOR_ATTEMPTS", "Split", "attempt_of", "prior_attempts", "split"]
