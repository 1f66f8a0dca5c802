"""The batch pipeline: one pass over N tasks of one (project, stage) for one agent.

re-fetch tasks (-> ledger claims) -> label-row metadata -> label initialisation -> storage items -> solve + run agents
-> validate pathways -> save labels and priorities -> proceed (-> settle the claims). Every step works on the whole
batch with a constant number of Encord requests, and records failures per task, so one task never costs another its
labels or its move.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runner_core.context import BatchScope
from runner_core.di import Requirement, effective_requirements
from runner_core.errors import DeadlineExceededError
from runner_core.outcomes import TaskOutcome
from runner_core.runners import claims, complete, fetch
from runner_core.runners.execute import run_coroutine, solve_and_call_agents, too_late_to_start
from runner_core.runners.parallel import run_parallel
from runner_core.runners.request_count import count_requests
from runner_core.runners.state import TaskState, WorkItem
from runner_core.runners.task_outcomes import from_state

if TYPE_CHECKING:
    from encord.user_client import EncordUserClient
    from encord.workflow.stages.agent import AgentPathway

    from runner_core.di import Overrides
    from runner_core.ledger import Ledger
    from runner_core.media.settings import MediaSettings
    from runner_core.runners.agent import RunnerAgent
    from runner_core.runners.project import ResolvedProject, ResolvedStage

logger = logging.getLogger("runner_core")


@dataclass(frozen=True, slots=True)
class BatchContext:
    client: EncordUserClient
    project: ResolvedProject
    stage: ResolvedStage
    agent: RunnerAgent
    media: MediaSettings
    overrides: Overrides | None = None
    # The stage as the workflow is now (bypassing the per-process cache; rate-limited), for unknown pathways.
    refresh_stage: Callable[[], ResolvedStage] | None = None
    # The task ledger: claim after the re-fetch, settle after completion (None: no cross-process de-duplication).
    ledger: Ledger | None = None


def run_batch(ctx: BatchContext, items: Sequence[WorkItem], *, deadline: float | None = None) -> list[TaskOutcome]:
    """Process `items` (tasks of `ctx.stage`) and return one outcome per item, in order. Never raises for a task."""
    states = [TaskState(item=item, task=item.task) for item in items]
    with count_requests(ctx.client) as counter:
        try:
            _run_steps(ctx, states, deadline)
        except Exception as exc:  # a bug or an unexpected SDK error outside the per-task guards: fail what is left
            logger.exception("batch of %d task(s) at stage %s failed", len(states), ctx.stage.title)
            for state in states:
                state.fail(exc)
    requests = counter.count if counter is not None else None
    outcomes = [
        from_state(state, project_hash=ctx.project.project_hash, stage_uuid=ctx.stage.uuid, encord_requests=requests)
        for state in states
    ]
    if ctx.ledger is not None:
        claims.settle_tasks(ctx.ledger, states, outcomes)
    return outcomes


def _run_steps(ctx: BatchContext, states: list[TaskState], deadline: float | None) -> None:
    agent, project = ctx.agent, ctx.project.project
    # The same margin as for starting one task: a batch that cannot start any task costs no Encord request.
    if too_late_to_start(deadline):
        for state in states:
            state.fail(DeadlineExceededError("deadline"))
        return
    failure_pathway = _failure_pathway(ctx)
    requirements = effective_requirements(agent.dependant, ctx.overrides)
    needs_row = Requirement.LABEL_ROW in requirements
    needs_item = Requirement.STORAGE_ITEM in requirements

    needs_metadata = needs_row or needs_item or agent.will_set_priority
    include, init = agent.label_row_metadata_include_args, agent.label_row_initialise_labels_args
    ledger = ctx.ledger

    def refetch_and_claim() -> None:
        fetch.refetch_tasks(ctx.stage.stage, states)
        if ledger is not None:
            claims.claim_tasks(
                ledger,
                project_hash=ctx.project.project_hash,
                stage_uuid=ctx.stage.uuid,
                states=states,
                deadline=deadline,
            )

    # Round trip 1: the tasks (then their ledger claims) and their label rows (independent lookups by data hash).
    run_parallel(
        refetch_and_claim,
        (lambda: fetch.fetch_label_rows(project, states, include)) if needs_metadata else None,
    )
    # Round trip 2: labels and storage items (both need the rows, not each other).
    run_parallel(
        (lambda: fetch.initialise_label_rows(states, init)) if needs_row else None,
        (lambda: fetch.fetch_storage_items(ctx.client, states)) if needs_item else None,
    )

    batch = BatchScope(
        project=project,
        stage=ctx.stage.stage,
        client=ctx.client,
        media=ctx.media,
        tasks=[s.task for s in states if s.task is not None and s.active],
    )
    run_coroutine(
        solve_and_call_agents(
            states,
            agent,
            batch=batch,
            max_concurrency=ctx.media.max_concurrency,
            deadline=deadline,
            overrides=ctx.overrides,
        )
    )

    complete.resolve_pathways(states, ctx.stage, refresh=ctx.refresh_stage)
    complete.fetch_rows_for_priorities(project, states, include)
    # Labels and priorities are saved side by side, and both before any task moves.
    run_parallel(lambda: complete.save_labels(states), lambda: complete.set_priorities(states))
    complete.proceed(states, failure_pathway=failure_pathway)


def _failure_pathway(ctx: BatchContext) -> AgentPathway | None:
    if ctx.agent.failure_pathway is None:
        return None
    try:
        return ctx.stage.pathway(ctx.agent.failure_pathway)
    except Exception:  # validate() reports this eagerly; at run time the tasks simply stay where they are
        logger.exception("failure pathway of %s is not usable", ctx.agent.printable_name)
        return None
