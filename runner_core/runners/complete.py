"""Completion: validate the returned pathways, save labels and priorities (one bundle), then proceed (one bundle).

Labels are saved before any task moves, and a task whose labels failed to save does not move. Each bundle is
replayed task by task only when Encord rejects it as a whole; in the proceed replay, Encord's "invalid arguments"
answer means the task already left the stage (a duplicate delivery won the race), so it is skipped, not failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from runner_core.errors import DeadlineExceededError
from runner_core.runners.bundles import run_bundled
from runner_core.runners.fetch import fetch_label_rows

if TYPE_CHECKING:
    from encord.http.bundle import Bundle
    from encord.project import Project
    from encord.workflow.stages.agent import AgentPathway

    from runner_core.models import LabelRowMetadataIncludeArgs
    from runner_core.runners.project import ResolvedStage
    from runner_core.runners.state import TaskState

logger = logging.getLogger("runner_core")

ALREADY_LEFT = "task already left the stage"


def resolve_pathways(
    states: Sequence[TaskState], stage: ResolvedStage, *, refresh: Callable[[], ResolvedStage] | None = None
) -> None:
    """Turn each returned pathway (name, uuid or None) into the stage's pathway; an unknown one fails the task.

    The stage was cached when the process first used it: before failing a task for a pathway it does not know,
    `refresh()` (if given) is asked once for the stage as the workflow is now (someone may have added the pathway).
    """
    wanted = [s for s in states if s.active and s.result is not None and s.result.pathway is not None]
    returned = [s.result.pathway for s in wanted if s.result is not None]
    if refresh is not None and any(isinstance(p, str | UUID) and not stage.knows(p) for p in returned):
        try:
            stage = refresh()
        except Exception as exc:  # keep the cached stage: the unknown pathway still fails below, as it would have
            logger.warning("re-reading stage %s failed: %s", stage.title, type(exc).__name__, exc_info=exc)
    for state in wanted:
        assert state.result is not None
        try:
            state.pathway = stage.pathway(state.result.pathway)
        except Exception as exc:
            logger.warning("task %s: %s", state.item.task_uuid, exc)
            state.fail(exc)


def fetch_rows_for_priorities(
    project: Project, states: Sequence[TaskState], include: LabelRowMetadataIncludeArgs
) -> None:
    """Priority set by an agent that declared neither a LabelRowV2 parameter nor `will_set_priority` (and returned
    no row of its own): list the rows it needs now (1 request) instead of failing the task."""
    needing = [
        s
        for s in states
        if s.active
        and s.result is not None
        and s.result.priority is not None
        and s.label_row is None
        and not _returned_own_row(s)
    ]
    if needing:
        fetch_label_rows(project, needing, include)


def _returned_own_row(state: TaskState) -> bool:
    """The agent returned a row of the task's own data unit (not, say, a twin project's row)."""
    row = state.result.label_row if state.result is not None else None
    return row is not None and str(row.data_hash) == str(state.item.data_hash)


def save_labels(states: Sequence[TaskState]) -> None:
    """Save every returned label row in one bundle (replayed per task if Encord rejects the bundle)."""
    pending = [s for s in states if s.active and s.result is not None and s.result.label_row is not None]

    def add(state: TaskState, bundle: Bundle | None) -> None:
        assert state.result is not None
        assert state.result.label_row is not None
        state.result.label_row.save(bundle=bundle)

    for index, exc in run_bundled(pending, add, what="label save").items():
        logger.warning("task %s: saving labels failed", pending[index].item.task_uuid, exc_info=exc)
        pending[index].fail(exc)


def set_priorities(states: Sequence[TaskState]) -> None:
    """Set every returned priority in one bundle; a priority of 0.0 is applied like any other."""
    pending = [s for s in states if s.active and s.result is not None and s.result.priority is not None]

    def add(state: TaskState, bundle: Bundle | None) -> None:
        assert state.result is not None
        assert state.result.priority is not None
        row = state.label_row or state.result.label_row  # the task's own row (see _returned_own_row)
        assert row is not None  # fetch_rows_for_priorities ran first
        row.set_priority(float(state.result.priority), bundle=bundle)

    for index, exc in run_bundled(pending, add, what="priority").items():
        logger.warning("task %s: setting the priority failed", pending[index].item.task_uuid, exc_info=exc)
        pending[index].fail(exc)


def proceed(states: Sequence[TaskState], *, failure_pathway: AgentPathway | None) -> None:
    """Move every task along its pathway, and final failures along `failure_pathway`, in one bundle."""
    from encord.exceptions import InvalidArgumentsError

    moves: list[tuple[TaskState, AgentPathway, bool]] = []
    for state in states:
        if state.active and state.pathway is not None:
            moves.append((state, state.pathway, False))
        elif failure_pathway is not None and _should_route_to_failure(state):
            moves.append((state, failure_pathway, True))

    def add(move: tuple[TaskState, AgentPathway, bool], bundle: Bundle | None) -> None:
        state, pathway, _ = move
        assert state.task is not None
        state.task.proceed(pathway_uuid=pathway.uuid, bundle=bundle)

    failures = run_bundled(moves, add, what="proceed")
    for index, (state, pathway, to_failure) in enumerate(moves):
        exc = failures.get(index)
        if exc is None:
            if to_failure:
                state.pathway = pathway
                state.routed_to_failure_pathway = True
            continue
        if isinstance(exc, InvalidArgumentsError):
            # Replayed alone and still rejected: the task is no longer at the stage.
            logger.info("task %s: %s", state.item.task_uuid, ALREADY_LEFT)
            if to_failure:
                state.error = None
            state.skip(ALREADY_LEFT)
        elif not to_failure:
            logger.warning("task %s: proceeding failed", state.item.task_uuid, exc_info=exc)
            state.fail(exc)
        else:
            logger.warning("task %s: routing to the failure pathway failed", state.item.task_uuid, exc_info=exc)


def _should_route_to_failure(state: TaskState) -> bool:
    if state.error is None or state.task is None or isinstance(state.error, DeadlineExceededError):
        return False
    return state.item.is_last_attempt or not state.failure_is_retryable
