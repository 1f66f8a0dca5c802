"""What the transport does with one message, decided once from its task outcomes; both clouds only map it.

| the message's tasks                                            | disposition  |
|----------------------------------------------------------------|--------------|
| every task moved, held or skipped                              | ack          |
| every failed task was routed along its stage's failure pathway | ack          |
| some task failed retryably (and was not routed)                | retry        |
| the body could not be decoded, or every failure is permanent   | dead_letter  |
| some task failed retryably on the message's last attempt       | dead_letter  |
| the core did not process the message (`not_processed`)         | retry        |

A task routed to its failure pathway is acked, not dead-lettered: the failure is visible in Encord, where people
act on it (DESIGN.md's outcome table), and a redelivery would find the task gone from the stage anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner_core.outcomes import MessageResult

MAX_REASON_CHARS = 900  # fits an SQS/Pub/Sub message attribute with room for the others


class Disposition(StrEnum):
    ACK = "ack"
    RETRY = "retry"  # redeliver: tasks that are already done are skipped next time
    DEAD_LETTER = "dead_letter"  # nothing a retry can fix: dead-letter now instead of spinning


@dataclass(frozen=True, slots=True)
class Decision:
    """A message's disposition and why (None when acked). The reason is short and sanitised, never a secret."""

    disposition: Disposition
    reason: str | None = None


def decide(result: MessageResult, *, last_attempt: bool = False) -> Decision:
    """The one rule turning a message's outcomes into a disposition (see the table above).

    On the last attempt a retryable failure is dead-lettered by the consumer, not left to the transport: its redrive
    or dead-letter policy would move the message anyway, but without the reason (which `runner-core dlq show`
    prints)."""
    if result.error is not None:
        return Decision(Disposition.DEAD_LETTER, _clip(result.error))
    failed = [task for task in result.tasks if not task.ok]
    if all(task.routed_to_failure_pathway for task in failed):
        return Decision(Disposition.ACK)
    reason = _clip("; ".join(f"{task.task_uuid}: {task.error or 'failed'}" for task in failed))
    if any(task.retryable for task in failed):
        if last_attempt:
            return Decision(Disposition.DEAD_LETTER, _clip(f"{reason} (on the last attempt)"))
        return Decision(Disposition.RETRY, reason)
    return Decision(Disposition.DEAD_LETTER, reason)


def not_processed(reason: str) -> Decision:
    """A message the core did not get to decide (the function cannot start, the runner raised for the whole call,
    an earlier message of its FIFO group failed): redeliver it, so nothing is lost."""
    return Decision(Disposition.RETRY, _clip(reason))


def _clip(reason: str) -> str:
    reason = reason or "failed"
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "…"


__all__ = ["Decision", "Disposition", "decide", "not_processed"]
