"""Claim a batch's tasks in the task ledger before anything heavy runs, and settle them after (`runner_core.ledger`).

Claims come right after the stage re-fetch (the live task gives the episode's `updated_at`) and before labels load
or an agent runs: one conditional write per task, all in parallel, so a batch pays one store round trip. A duplicate
costs no label load and no agent run; it is skipped (acked).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from runner_core.ledger import ClaimHeldError, ClaimStatus, Episode, LedgerUnavailableError, Settlement
from runner_core.outcomes import Outcome, TaskOutcome

if TYPE_CHECKING:
    from runner_core.ledger import Claim, Ledger
    from runner_core.runners.state import TaskState


def lease_seconds(ledger: Ledger, deadline: float | None) -> float:
    """A claim lasts until the invocation's deadline plus the margin, so a crashed or timed-out worker's claim runs
    out and a later delivery takes over; without a deadline, the default lease."""
    if deadline is None:
        return ledger.settings.default_lease_s
    return max(deadline - time.monotonic(), 0.0) + ledger.settings.lease_margin_s


def claim_tasks(
    ledger: Ledger, *, project_hash: str, stage_uuid: UUID, states: Sequence[TaskState], deadline: float | None
) -> None:
    """Claim every active task whose live copy is known; duplicates are skipped, a redelivery of the message that
    holds a live claim fails retryably (it is retried later, not run twice)."""
    pending = [s for s in states if s.active and s.task is not None and s.claim is None]
    if not pending:
        return
    episodes = [
        Episode.of(
            project_hash=project_hash,
            stage_uuid=stage_uuid,
            task_uuid=state.item.task_uuid,
            updated_at=state.task.updated_at,  # type: ignore[union-attr]  # filtered above
        )
        for state in pending
    ]
    holders = [state.item.delivery or f"local-{id(state)}" for state in pending]
    try:
        claims = ledger.claim(episodes, holder=holders, lease_s=lease_seconds(ledger, deadline))
    except LedgerUnavailableError as exc:  # the ledger fails closed: retry the tasks later
        for state in pending:
            state.fail(exc)
        return
    for state, claim in zip(pending, claims, strict=True):
        if claim.runs:
            state.claim = claim
        elif claim.status is ClaimStatus.HELD_BY_THIS_MESSAGE:
            state.fail(ClaimHeldError(claim.reason))
        else:
            state.skip(claim.reason)


def settlement_of(outcome: TaskOutcome) -> Settlement:
    """How a claimed task's outcome is recorded: moved -> done; held -> done for the re-check interval; retryable
    failure -> released; permanent failure -> failed for a window (routed along the failure pathway: done)."""
    if outcome.outcome is Outcome.MOVED or outcome.routed_to_failure_pathway:
        return Settlement.DONE
    if outcome.outcome is Outcome.FAILED:
        return Settlement.RELEASED if outcome.retryable else Settlement.FAILED
    return Settlement.HELD  # held, or (rarely) skipped after the claim: look again after the interval


def settle_tasks(ledger: Ledger, states: Sequence[TaskState], outcomes: Sequence[TaskOutcome]) -> None:
    settled: list[tuple[Claim, Settlement]] = [
        (state.claim, settlement_of(outcome))
        for state, outcome in zip(states, outcomes, strict=True)
        if state.claim is not None
    ]
    if settled:
        ledger.settle(settled)  # never raises: the task already ran, and an unsettled claim's lease runs out
