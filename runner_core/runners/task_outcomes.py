"""Every `TaskOutcome` is built here, and every task outcome is described by `outcome_fields` (one log schema for
the core's debug line and the entrypoints' outcome line)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from runner_core.errors import DeadlineExceededError
from runner_core.outcomes import Outcome, TaskOutcome
from runner_core.runners.classify import is_retryable, short_reason

if TYPE_CHECKING:
    from uuid import UUID

    from runner_core.runners.state import TaskState, WorkItem

logger = logging.getLogger("runner_core")


def from_state(
    state: TaskState, *, project_hash: str, stage_uuid: UUID, encord_requests: int | None = None
) -> TaskOutcome:
    """The outcome of a task that went through the pipeline."""
    item, pathway = state.item, state.pathway
    retryable, error = False, None
    if state.error is not None:
        kind = Outcome.FAILED
        retryable = state.failure_is_retryable
        error = "deadline" if isinstance(state.error, DeadlineExceededError) else short_reason(state.error)
        pathway = pathway if state.routed_to_failure_pathway else None
    elif state.outcome is Outcome.SKIPPED:
        kind, error, pathway = Outcome.SKIPPED, state.note, None
    else:
        kind = Outcome.MOVED if pathway is not None else Outcome.HELD
    outcome = TaskOutcome(
        task_uuid=item.task_uuid,
        data_hash=item.data_hash,
        project_hash=project_hash,
        stage_uuid=stage_uuid,
        outcome=kind,
        pathway_uuid=pathway.uuid if pathway is not None else None,
        pathway_name=pathway.name if pathway is not None else None,
        retryable=retryable,
        error=error,
        routed_to_failure_pathway=state.routed_to_failure_pathway,
        duration_s=round(time.monotonic() - state.started, 4),
        encord_requests=encord_requests,
    )
    _log(outcome, item)
    return outcome


def failed_before_start(item: WorkItem, exc: BaseException, project_hash: str | None) -> TaskOutcome:
    """A task that never reached the pipeline (its stage or project could not be resolved, or a bug)."""
    # Not logged here: nothing ran, and the caller logged why with its traceback.
    return TaskOutcome(
        task_uuid=item.task_uuid,
        data_hash=item.data_hash,
        project_hash=project_hash,
        stage_uuid=None,
        outcome=Outcome.FAILED,
        retryable=is_retryable(exc),
        error=short_reason(exc),
    )


def skipped(item: WorkItem, note: str, *, project_hash: str, stage_uuid: UUID) -> TaskOutcome:
    """A task this call does not run (already in flight in this process, or repeated in the batch)."""
    return TaskOutcome(
        task_uuid=item.task_uuid,
        data_hash=item.data_hash,
        project_hash=project_hash,
        stage_uuid=stage_uuid,
        outcome=Outcome.SKIPPED,
        error=note,
    )


def outcome_fields(outcome: TaskOutcome) -> dict[str, Any]:
    """The fields describing one task outcome, on every path that logs one."""
    return {
        "project_hash": outcome.project_hash,
        "stage_uuid": _str(outcome.stage_uuid),
        "task_uuid": _str(outcome.task_uuid),
        "data_hash": _str(outcome.data_hash),
        "outcome": outcome.outcome.value,
        "pathway": outcome.pathway_name or _str(outcome.pathway_uuid),
        "retryable": outcome.retryable,
        "routed_to_failure_pathway": outcome.routed_to_failure_pathway,
        "error": outcome.error,
        "duration_ms": round(outcome.duration_s * 1000, 1),
        # Requests of the batch the task ran in (shared by the batch's tasks; see TaskOutcome.encord_requests).
        "encord_requests": outcome.encord_requests,
    }


def _log(outcome: TaskOutcome, item: WorkItem) -> None:
    fields = {**outcome_fields(outcome), "attempt": item.attempt}
    # DEBUG: the entrypoints write the one outcome line per task, with the transport's fields (message id, cold
    # start) that the core cannot know; a failure's traceback was already logged where it happened.
    logger.debug("task %s %s", fields["task_uuid"], outcome.outcome.value, extra={"task_outcome": fields})


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)


__all__ = ["failed_before_start", "from_state", "outcome_fields", "skipped"]
