"""`RunnerBase`: agent registration, lazy project resolution, validation, and handing batches to the pipeline.

Nothing here touches the network at construction or decoration: the client, the project, its workflow and its
stages are resolved on first use and cached for the life of the runner (a warm serverless instance).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from uuid import UUID

from runner_core.errors import ConfigurationError, DuplicateStageError
from runner_core.runners.agent import RunnerAgent, normalise_identity

if TYPE_CHECKING:
    from encord.user_client import EncordUserClient
    from encord.workflow.stages.agent import AgentStage

    from runner_core.ledger import Ledger
    from runner_core.media.settings import MediaSettings
    from runner_core.models import LabelRowInitialiseLabelsArgs, LabelRowMetadataIncludeArgs
    from runner_core.outcomes import TaskOutcome
    from runner_core.runners.project import ProjectResolver, ResolvedProject, ResolvedStage
    from runner_core.runners.state import WorkItem

logger = logging.getLogger("runner_core")

IN_PROGRESS = "task is already being processed by this process"
DUPLICATE_IN_BATCH = "task appears more than once in this batch"


class RunnerBase:
    """Shared by `QueueRunner` and `SequentialRunner`.

    Args:
        project_hash: the project the runner serves (optional here; stages are validated against it on first use).
        user_client: the `EncordUserClient` to use everywhere (also for `EncordUserClient` dependencies); by
            default one is created from `ENCORD_SSH_KEY` / `ENCORD_SSH_KEY_FILE` / `ENCORD_DOMAIN` on first use.
    """

    def __init__(self, project_hash: str | UUID | None = None, *, user_client: EncordUserClient | None = None) -> None:
        self._project_hash = _parse_project_hash(project_hash) if project_hash is not None else None
        self._user_client = user_client
        self._client_given = user_client is not None
        self._agents: list[RunnerAgent] = []
        self._resolver_instance: ProjectResolver | None = None
        self._inflight: set[UUID] = set()
        self._inflight_lock = threading.Lock()
        self.ledger: Ledger | None = None
        """The task ledger batches claim in and settle to (`runner_core.ledger`); None: no cross-process
        de-duplication (a task delivered twice to two processes can run twice)."""
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        """Replace dependency callables (as FastAPI's `dependency_overrides`), e.g. with fakes in tests."""

    # --- configuration ------------------------------------------------------------------------------------------

    @property
    def project_hash(self) -> str | None:
        return self._project_hash

    @property
    def client(self) -> EncordUserClient:
        """The runner's Encord client: `user_client=` if given, else the process-wide one from the environment."""
        if self._user_client is None:
            from runner_core.client import get_user_client

            self._user_client = get_user_client()
        return self._user_client

    def use_client(self, client: EncordUserClient) -> None:
        """Use `client` from now on: how an entrypoint hands over a client built from a key it holds (a secret
        store), without putting the key in the process environment."""
        self._user_client = client

    @property
    def _resolver(self) -> ProjectResolver:
        from runner_core.runners.project import ProjectResolver

        with self._inflight_lock:  # two first messages on two threads must share one resolver
            if self._resolver_instance is None:
                self._resolver_instance = ProjectResolver(lambda: self.client)
            return self._resolver_instance

    @property
    def agents(self) -> tuple[RunnerAgent, ...]:
        return tuple(self._agents)

    @functools.cached_property
    def media_settings(self) -> MediaSettings:
        """Read from the environment on first use (not at import or construction), then kept."""
        from runner_core.media.settings import MediaSettings

        return MediaSettings()

    def _register(
        self,
        stage: str | UUID,
        func: Callable[..., Any],
        *,
        label_row_metadata_include_args: LabelRowMetadataIncludeArgs | None,
        label_row_initialise_labels_args: LabelRowInitialiseLabelsArgs | None,
        overwrite: bool,
        will_set_priority: bool,
        failure_pathway: str | None,
    ) -> RunnerAgent:
        agent = RunnerAgent.create(
            stage,
            func,
            label_row_metadata_include_args=label_row_metadata_include_args,
            label_row_initialise_labels_args=label_row_initialise_labels_args,
            will_set_priority=will_set_priority,
            failure_pathway=failure_pathway,
        )
        for index, existing in enumerate(self._agents):
            if existing.identity == agent.identity:
                if not overwrite:
                    raise DuplicateStageError(
                        f"stage {str(stage)!r} already has the agent {existing.printable_name}; "
                        f"pass overwrite=True to replace it"
                    )
                self._agents[index] = agent  # keeps the registration order
                return agent
        self._agents.append(agent)
        return agent

    # --- resolution (first use) --------------------------------------------------------------------------------

    def _require_project_hash(self, project_hash: str | UUID | None = None) -> str:
        if project_hash is not None:
            return _parse_project_hash(project_hash)
        if self._project_hash is None:
            raise ConfigurationError("no project: give the runner a project_hash, or pass one when running")
        return self._project_hash

    def resolve_project(self, project_hash: str | UUID | None = None) -> ResolvedProject:
        """The project, its workflow and agent stages (fetched once per runner, then cached)."""
        return self._resolver.get(self._require_project_hash(project_hash))

    def resolve_stage(self, agent: RunnerAgent, project_hash: str | UUID | None = None) -> ResolvedStage:
        return self.resolve_project(project_hash).stage(agent.identity)

    def validate(self, project_hash: str | UUID | None = None) -> None:
        """Check eagerly what is otherwise checked on first use: the project is a workflow project, every registered
        stage is one of its agent stages, failure pathways exist, and no stage has two agents."""
        project = self.resolve_project(project_hash)
        _ = self.media_settings  # environment settings are checked (and loaded) now too
        seen: dict[UUID, RunnerAgent] = {}
        for agent in self._agents:
            resolved = project.stage(agent.identity)
            if agent.failure_pathway is not None:
                resolved.pathway(agent.failure_pathway)
            other = seen.get(resolved.uuid)
            if other is not None:
                raise DuplicateStageError(
                    f"stage {resolved.title!r} ({resolved.uuid}) has two agents: {other.printable_name} "
                    f"and {agent.printable_name}"
                )
            seen[resolved.uuid] = agent

    def warm_up(self) -> int:
        """Create every agent's instance-scoped dependencies now, before the first task (a cold start's import phase,
        SnapStart's before-snapshot hook); returns how many this process holds. Honours `dependency_overrides`."""
        from runner_core.di.instance import process_instances

        return process_instances().warm(
            [agent.dependant for agent in self._agents], overrides=self.dependency_overrides or None
        )

    def refresh_client(self) -> None:
        """Forget the client made from the environment, and the projects fetched with it (their connections): the
        next use makes new ones. A client passed as `user_client=` is the caller's and is kept."""
        with self._inflight_lock:
            if not self._client_given:
                self._user_client = None
            self._resolver_instance = None

    def get_agent_stages(self) -> Iterable[AgentStage]:
        """The `AgentStage` objects of the stages this runner has an agent for (resolves the project)."""
        project = self.resolve_project()
        for agent in self._agents:
            yield project.stage(agent.identity).stage

    # --- execution -----------------------------------------------------------------------------------------------

    def _run_agent_on_items(
        self,
        agent: RunnerAgent,
        items: Sequence[WorkItem],
        *,
        project_hash: str | None = None,
        deadline: float | None = None,
    ) -> list[TaskOutcome]:
        """Run one batch for one agent; returns one outcome per item, in order, and never raises for a task."""
        # The pipeline loads on the first batch, not at import: importing an agent module stays cheap.
        from runner_core.runners.classify import short_reason
        from runner_core.runners.pipeline import BatchContext, run_batch
        from runner_core.runners.task_outcomes import failed_before_start, skipped

        try:
            project = self.resolve_project(project_hash)
            stage = project.stage(agent.identity)
            ctx = BatchContext(
                client=self.client,
                project=project,
                stage=stage,
                agent=agent,
                media=self.media_settings,
                overrides=self.dependency_overrides or None,
                refresh_stage=lambda: self._resolver.refresh(project.project_hash).stage(agent.identity),
                ledger=self.ledger,
            )
        except Exception as exc:
            logger.warning("cannot run stage %s: %s", agent.identity, short_reason(exc), exc_info=exc)
            return [failed_before_start(item, exc, project_hash or self._project_hash) for item in items]
        with self._claim(items) as (mine, others):
            outcomes = dict(zip(mine, run_batch(ctx, [items[i] for i in mine], deadline=deadline), strict=True))
        for index, note in others.items():
            outcomes[index] = skipped(items[index], note, project_hash=project.project_hash, stage_uuid=stage.uuid)
        return [outcomes[i] for i in range(len(items))]

    @contextmanager
    def _claim(self, items: Sequence[WorkItem]) -> Iterator[tuple[list[int], dict[int, str]]]:
        """Claim the items' tasks for this call: a task already in flight in this process (a duplicate delivery
        handled by another thread) or repeated in the batch is skipped instead of run twice."""
        mine: list[int] = []
        others: dict[int, str] = {}
        claimed: set[UUID] = set()
        with self._inflight_lock:
            for index, item in enumerate(items):
                uuid = item.task_uuid
                if uuid in claimed:
                    others[index] = DUPLICATE_IN_BATCH
                elif uuid in self._inflight:
                    others[index] = IN_PROGRESS
                else:
                    claimed.add(uuid)
                    mine.append(index)
            self._inflight |= claimed
        try:
            yield mine, others
        finally:
            with self._inflight_lock:
                self._inflight -= claimed


def _parse_project_hash(project_hash: str | UUID) -> str:
    try:
        return str(UUID(str(project_hash)))
    except ValueError:
        raise ConfigurationError(f"project_hash must be a UUID, got {str(project_hash)[:80]!r}") from None


__all__ = ["RunnerBase", "normalise_identity"]
