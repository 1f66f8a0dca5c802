"""`QueueRunner`: agents behind a queue. `process()` is the typed API for entrypoints; `@runner.stage(...)` returns
the JSON-in/JSON-out function of encord-agents, built on the same pipeline."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, cast
from uuid import UUID

from runner_core.errors import ConfigurationError, MessageDecodeError, ProjectError, StageNotFoundError
from runner_core.outcomes import MessageResult, Outcome, QueueMessage, TaskOutcome
from runner_core.runners.base import RunnerBase

if TYPE_CHECKING:
    from encord.user_client import EncordUserClient

    from runner_core.ledger import Ledger
    from runner_core.messages import DecodedMessage
    from runner_core.models import LabelRowInitialiseLabelsArgs, LabelRowMetadataIncludeArgs, TaskCompletionResult
    from runner_core.runners.agent import RunnerAgent
    from runner_core.runners.state import WorkItem
    from runner_core.settings import QueueSettings

logger = logging.getLogger("runner_core")


class WrappedAgent(Protocol):
    """What `@runner.stage(...)` returns: message body (or bodies) in, `TaskCompletionResult` JSON out."""

    __wrapped__: Callable[..., Any]

    def __call__(self, json_strs: str | bytes | list[str], /) -> str: ...


@dataclass(slots=True)
class _Slot:
    """Where a task of a message goes in the results."""

    message_index: int
    task_index: int
    item: WorkItem


class QueueRunner(RunnerBase):
    """Run agents on tasks delivered by a queue.

    ```python
    runner = QueueRunner(project_hash="<project-hash>")

    @runner.stage("pre-label")
    def pre_label(lr: LabelRowV2) -> str:
        ...
        return "annotate"

    # in a worker: pre_label(message_body) -> TaskCompletionResult JSON
    ```
    """

    def __init__(
        self, project_hash: str | UUID, *, user_client: EncordUserClient | None = None, ledger: Ledger | None = None
    ) -> None:
        if project_hash is None:
            raise ConfigurationError("QueueRunner needs a project_hash")
        super().__init__(project_hash, user_client=user_client)
        self.ledger = ledger

    @property
    def project_hash(self) -> str:
        assert self._project_hash is not None
        return self._project_hash

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError(
            "a QueueRunner is not called: call the function `@runner.stage(...)` returned with a message, "
            "or runner.process(messages)"
        )

    def stage(
        self,
        stage: str | UUID,
        *,
        label_row_metadata_include_args: LabelRowMetadataIncludeArgs | None = None,
        label_row_initialise_labels_args: LabelRowInitialiseLabelsArgs | None = None,
        will_set_priority: bool = False,
        overwrite: bool = False,
        failure_pathway: str | None = None,
    ) -> Callable[[Callable[..., Any]], WrappedAgent]:
        """Register an agent for `stage` (its title or uuid) and return the message-handling function.

        The returned function takes a message body (one `AgentTask.model_dump_json()`, a JSON list of them, or the
        envelope v1) or a list of bodies, and returns the `TaskCompletionResult` JSON; the agent itself stays
        reachable as `__wrapped__`. `failure_pathway` (a pathway name or uuid of the stage) receives a task that
        failed permanently or on its last attempt. Nothing touches the network here.
        """

        def decorator(func: Callable[..., Any]) -> WrappedAgent:
            agent = self._register(
                stage,
                func,
                label_row_metadata_include_args=label_row_metadata_include_args,
                label_row_initialise_labels_args=label_row_initialise_labels_args,
                overwrite=overwrite,
                will_set_priority=will_set_priority,
                failure_pathway=failure_pathway,
            )

            @functools.wraps(func)
            def wrapper(json_strs: str | bytes | list[str]) -> str:
                bodies: list[str | bytes] = [json_strs] if isinstance(json_strs, str | bytes) else list(json_strs)
                messages = [QueueMessage(message_id=str(i), body=body) for i, body in enumerate(bodies)]
                results = self._decode_route_and_run(messages, default_agent=agent, deadline=None)
                return completion_result(results, stage_uuid=self._stage_uuid_or_none(agent)).model_dump_json()

            return cast(WrappedAgent, wrapper)

        return decorator

    def process(self, messages: Sequence[QueueMessage], *, deadline: float | None = None) -> list[MessageResult]:
        """Process queue messages; one `MessageResult` per message, in order. Never raises for a message or task.

        Envelopes are routed to the agent of their `stage_uuid`; the encord-agents forms need the runner to have
        exactly one stage. Tasks of all messages for one stage run as one batch. `deadline` is a
        `time.monotonic()` value: tasks that cannot start safely before it fail retryably with error "deadline".
        """
        return self._decode_route_and_run(messages, default_agent=None, deadline=deadline)

    # --- internals -------------------------------------------------------------------------------------------

    @functools.cached_property
    def queue_settings(self) -> QueueSettings:
        """Read from the environment on first use (not at import or construction), then kept."""
        from runner_core.settings import QueueSettings

        return QueueSettings()

    def _decode_route_and_run(
        self, messages: Sequence[QueueMessage], *, default_agent: RunnerAgent | None, deadline: float | None
    ) -> list[MessageResult]:
        from runner_core.messages import decode_message
        from runner_core.runners.classify import sanitise, short_reason
        from runner_core.runners.state import WorkItem
        from runner_core.runners.task_outcomes import failed_before_start

        max_bytes = self.queue_settings.max_message_bytes
        errors: dict[int, str] = {}
        task_outcomes: dict[int, list[TaskOutcome | None]] = {}
        groups: dict[int, tuple[RunnerAgent, list[_Slot]]] = {}
        for m_index, message in enumerate(messages):
            try:
                decoded = decode_message(message.body, max_bytes=message.max_bytes or max_bytes)
            except Exception as exc:  # whatever a body does to the decoder, it fails that message alone, for good
                # The reason may quote the body: never let a secret in it leave.
                reason = sanitise(str(exc) if isinstance(exc, MessageDecodeError) else short_reason(exc))
                logger.warning("message %s rejected: %s", message.message_id, reason)
                errors[m_index] = reason
                continue
            task_outcomes[m_index] = [None] * len(decoded.tasks)
            try:
                agent = self._agent_for(decoded, default_agent)
            except Exception as exc:
                logger.warning("message %s: %s", message.message_id, short_reason(exc), exc_info=exc)
                task_outcomes[m_index] = [
                    failed_before_start(WorkItem(ref=ref), exc, decoded.project_hash or self.project_hash)
                    for ref in decoded.tasks
                ]
                continue
            _, slots = groups.setdefault(id(agent), (agent, []))
            for t_index, ref in enumerate(decoded.tasks):
                item = WorkItem(
                    ref=ref, attempt=message.attempt, max_attempts=message.max_attempts, delivery=message.message_id
                )
                slots.append(_Slot(m_index, t_index, item))

        for agent, slots in groups.values():
            items = [slot.item for slot in slots]
            try:
                outcomes = self._run_agent_on_items(agent, items, deadline=deadline)
            except Exception as exc:  # a bug: still answer for every task (retryably) instead of raising
                logger.exception("processing %d task(s) for %s failed", len(items), agent.printable_name)
                outcomes = [failed_before_start(item, exc, self.project_hash) for item in items]
            for slot, outcome in zip(slots, outcomes, strict=True):
                task_outcomes[slot.message_index][slot.task_index] = outcome

        results: list[MessageResult] = []
        for m_index, message in enumerate(messages):
            if m_index in errors:
                results.append(MessageResult(message_id=message.message_id, tasks=(), error=errors[m_index]))
                continue
            tasks = tuple(t for t in task_outcomes[m_index] if t is not None)
            results.append(MessageResult(message_id=message.message_id, tasks=tasks))
        return results

    def _agent_for(self, decoded: DecodedMessage, default_agent: RunnerAgent | None) -> RunnerAgent:
        if decoded.project_hash is not None and decoded.project_hash != self.project_hash:
            raise ProjectError(
                f"the message is for project {decoded.project_hash}, but this runner serves {self.project_hash}"
            )
        if decoded.stage_uuid is None:
            if default_agent is not None:
                return default_agent
            if len(self._agents) == 1:
                return self._agents[0]
            raise StageNotFoundError(
                f"the message names no stage and this runner has {len(self._agents)} stages; send the envelope "
                f"with a stage_uuid"
            )
        if default_agent is not None and default_agent.identity == decoded.stage_uuid:
            return default_agent
        project = self.resolve_project()
        for agent in self._agents:
            try:
                if project.stage(agent.identity).uuid == decoded.stage_uuid:
                    return agent
            except StageNotFoundError:
                continue  # that agent's own stage is wrong; it must not block routing to the others
        raise StageNotFoundError(
            f"this runner has no agent for stage {decoded.stage_uuid}",
            valid_stages=[str(a.identity) for a in self._agents],
        )

    def _stage_uuid_or_none(self, agent: RunnerAgent) -> UUID | None:
        try:
            return self.resolve_stage(agent).uuid
        except Exception:
            return None


def completion_result(results: Sequence[MessageResult], *, stage_uuid: UUID | None) -> TaskCompletionResult:
    """The encord-agents-compatible answer for the wrapper: single-task form for one task, batch form otherwise."""
    from runner_core.models import PathwayRef, TaskCompletionResult, TaskResult

    outcomes = [task for result in results for task in result.tasks]
    message_errors = [f"message {r.message_id}: {r.error}" for r in results if r.error is not None]
    entries = [
        TaskResult(
            task_uuid=t.task_uuid,
            outcome=t.outcome,
            pathway=PathwayRef(uuid=t.pathway_uuid, name=t.pathway_name or "") if t.pathway_uuid else None,
            retryable=t.retryable,
            error=t.error if t.outcome is Outcome.FAILED else None,
            routed_to_failure_pathway=t.routed_to_failure_pathway,
        )
        for t in outcomes
    ]
    if len(results) == 1 and results[0].error is not None:
        return TaskCompletionResult(task_uuid=None, stage_uuid=stage_uuid, success=False, error=results[0].error)
    if len(results) == 1 and len(outcomes) == 1:
        only = outcomes[0]
        return TaskCompletionResult(
            task_uuid=only.task_uuid,
            stage_uuid=only.stage_uuid or stage_uuid,
            success=only.ok,
            pathway=only.pathway_uuid if only.outcome is Outcome.MOVED else None,
            error=only.error if only.outcome is Outcome.FAILED else None,
            results=entries,
        )
    failed = [t for t in outcomes if not t.ok]
    errors = message_errors + [f"task {t.task_uuid}: {t.error}" for t in failed]
    return TaskCompletionResult(
        task_uuid=[t.task_uuid for t in outcomes if t.task_uuid is not None],
        stage_uuid=stage_uuid,
        success=[t.task_uuid for t in outcomes if t.ok and t.task_uuid is not None],
        pathway=[t.pathway_uuid for t in outcomes if t.outcome is Outcome.MOVED and t.pathway_uuid is not None],
        error="; ".join(errors)[:2000] if errors else None,
        results=entries,
    )
