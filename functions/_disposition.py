"""What a consumer does with one message, given the runner's result. The same rule on both clouds."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner_core.outcomes import MessageResult


class Disposition(StrEnum):
    ACK = "ack"  # every task moved, held, skipped, or routed along its failure pathway
    RETRY = "retry"  # some task failed retryably: redeliver (the done tasks are skipped next time)
    DEAD_LETTER = "dead_letter"  # nothing a retry can fix: dead-letter now instead of spinning


def disposition_of(result: MessageResult) -> Disposition:
    if result.ok:
        return Disposition.ACK
    failed = [task for task in result.tasks if not task.ok]
    if result.error is None and failed and all(task.routed_to_failure_pathway for task in failed):
        # The failure is visible in Encord (the task moved along the stage's failure pathway): nothing to redo.
        return Disposition.ACK
    if result.retryable:
        return Disposition.RETRY
    return Disposition.DEAD_LETTER


def failure_reason(result: MessageResult, *, limit: int = 900) -> str:
    """A short reason for dead-letter attributes: the message error, else the failed tasks' errors."""
    if result.error:
        reason = result.error
    else:
        reasons = [f"{task.task_uuid}: {task.error or 'failed'}" for task in result.tasks if not task.ok]
        reason = "; ".join(reasons) or "failed"
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"
