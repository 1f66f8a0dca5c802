"""Resolve a project, its workflow and its agent stages on first use, and cache them for the life of the runner."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from uuid import UUID

from runner_core.client import key_rejected_message
from runner_core.errors import ProjectError, SettingsError, StageNotFoundError, UnknownPathwayError

if TYPE_CHECKING:
    from encord.project import Project
    from encord.user_client import EncordUserClient
    from encord.workflow.stages.agent import AgentPathway, AgentStage


@dataclass(frozen=True, slots=True)
class ResolvedStage:
    """An agent stage and its pathways, looked up by uuid or name."""

    stage: AgentStage
    by_uuid: dict[UUID, AgentPathway] = field(default_factory=dict)
    by_name: dict[str, AgentPathway] = field(default_factory=dict)

    @classmethod
    def of(cls, stage: AgentStage) -> ResolvedStage:
        return cls(
            stage=stage,
            by_uuid={p.uuid: p for p in stage.pathways},
            by_name={p.name: p for p in stage.pathways},
        )

    @property
    def uuid(self) -> UUID:
        return self.stage.uuid

    @property
    def title(self) -> str:
        return self.stage.title

    def knows(self, value: object) -> bool:
        """Whether `pathway(value)` would find a pathway."""
        try:
            self.pathway(value)  # type: ignore[arg-type]
        except UnknownPathwayError:
            return False
        return True

    def pathway(self, value: str | UUID) -> AgentPathway:
        """The pathway an agent named (by uuid, uuid string, or name), or `UnknownPathwayError`."""
        if isinstance(value, UUID):
            found = self.by_uuid.get(value)
        elif isinstance(value, str):
            found = self.by_name.get(value)
            if found is None:
                try:
                    found = self.by_uuid.get(UUID(value))
                except ValueError:
                    found = None
        else:
            raise UnknownPathwayError(
                f"the agent returned {type(value).__name__} {value!r}; return a pathway name, a pathway uuid, "
                f"None or a TaskAgentReturnStruct"
            )
        if found is None:
            accepted = ", ".join(f"{p.name!r} ({p.uuid})" for p in self.stage.pathways) or "none"
            raise UnknownPathwayError(
                f"stage {self.title!r} has no pathway {str(value)[:100]!r}; its pathways are {accepted}"
            )
        return found


@dataclass(slots=True)
class ResolvedProject:
    project: Project
    agent_stages: tuple[ResolvedStage, ...]
    other_stages: tuple[tuple[str, UUID, str], ...]  # (title, uuid, type) of the non-agent stages
    fetched_at: float = field(default_factory=time.monotonic)

    @property
    def project_hash(self) -> str:
        return str(self.project.project_hash)

    def valid_stage_names(self) -> list[str]:
        return [f"{s.title!r} ({s.uuid})" for s in self.agent_stages]

    def stage(self, identity: str | UUID) -> ResolvedStage:
        for resolved in self.agent_stages:
            if resolved.uuid == identity or resolved.title == identity:
                return resolved
        for title, uuid, stage_type in self.other_stages:
            if uuid == identity or title == identity:
                raise StageNotFoundError(
                    f"stage {title!r} ({uuid}) of project {self.project_hash} is not an agent stage "
                    f"(its type is {stage_type.lower()})",
                    valid_stages=self.valid_stage_names(),
                )
        raise StageNotFoundError(
            f"project {self.project_hash} has no stage {str(identity)!r}", valid_stages=self.valid_stage_names()
        )


class ProjectResolver:
    """Fetches each project once (2 requests: project with workflow, ontology) and keeps it; thread-safe."""

    def __init__(self, client: Callable[[], EncordUserClient]) -> None:
        self._client = client
        self._projects: dict[str, ResolvedProject] = {}
        self._lock = threading.Lock()

    def get(self, project_hash: str) -> ResolvedProject:
        with self._lock:
            found = self._projects.get(project_hash)
            if found is None:
                found = self._resolve(project_hash)
                self._projects[project_hash] = found
            return found

    def refresh(self, project_hash: str, *, min_age_s: float = 60.0) -> ResolvedProject:
        """The project fetched again, unless the cached copy is younger than `min_age_s` (then that copy).

        For a workflow edited while the process is warm (a new pathway); the age bound keeps an agent that keeps
        returning a typo from costing a project fetch per batch.
        """
        with self._lock:
            found = self._projects.get(project_hash)
            if found is None or time.monotonic() - found.fetched_at >= min_age_s:
                found = self._resolve(project_hash)
                self._projects[project_hash] = found
            return found

    def _resolve(self, project_hash: str) -> ResolvedProject:
        from encord.exceptions import AuthenticationError, AuthorisationError, ResourceNotFoundError
        from encord.orm.project import ProjectType
        from encord.workflow.stages.agent import AgentStage

        try:
            project = self._client().get_project(project_hash)
        except AuthenticationError:
            raise SettingsError(key_rejected_message()) from None
        except (ResourceNotFoundError, AuthorisationError) as exc:
            # Unknown or not shared with this key: no later attempt will see it either.
            raise ProjectError(f"project {project_hash} not found or not accessible ({type(exc).__name__})") from exc
        if project.project_type != ProjectType.WORKFLOW:
            raise ProjectError(f"project {project_hash} is not a workflow project; agent stages need a workflow")
        agent_stages: list[ResolvedStage] = []
        other: list[tuple[str, UUID, str]] = []
        for stage in project.workflow.stages:
            if isinstance(stage, AgentStage):
                agent_stages.append(ResolvedStage.of(stage))
            else:
                other.append((stage.title, stage.uuid, str(getattr(stage.stage_type, "value", stage.stage_type))))
        if not agent_stages:
            raise ProjectError(f"project {project_hash} has no agent stage in its workflow")
        return ResolvedProject(project=project, agent_stages=tuple(agent_stages), other_stages=tuple(other))
