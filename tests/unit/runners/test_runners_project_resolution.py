"""ProjectResolver and ResolvedStage on in-process fakes (pure lookup logic; the SDK path is in integration)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import pytest
from encord.orm.project import ProjectType
from encord.workflow.stages.agent import AgentPathway, AgentStage

from runner_core.errors import ProjectError, UnknownPathwayError
from runner_core.messages import TaskRef
from runner_core.runners.complete import resolve_pathways
from runner_core.runners.project import ProjectResolver, ResolvedStage
from runner_core.runners.state import AgentReturn, TaskState, WorkItem


@dataclass
class FakeProject:
    project_type: ProjectType
    stages: list[Any] = field(default_factory=list)
    project_hash: str = "p"

    @property
    def workflow(self) -> Any:
        return type("W", (), {"stages": self.stages})()


class FakeClient:
    def __init__(self, project: FakeProject) -> None:
        self.project = project
        self.calls = 0

    def get_project(self, project_hash: str) -> FakeProject:
        self.calls += 1
        return self.project


def _stage() -> AgentStage:
    pathways = [AgentPathway(uuid=uuid4(), name="annotate", destination_uuid=uuid4())]
    return AgentStage(uuid=uuid4(), title="pre-label", pathways=pathways, _workflow_client=None)  # type: ignore[arg-type]


def test_non_workflow_project_is_rejected() -> None:
    client = FakeClient(FakeProject(project_type=ProjectType.MANUAL_QA))
    with pytest.raises(ProjectError, match="not a workflow project"):
        ProjectResolver(lambda: client).get("p")  # type: ignore[arg-type,return-value]


def test_project_is_fetched_once() -> None:
    client = FakeClient(FakeProject(project_type=ProjectType.WORKFLOW, stages=[_stage()]))
    resolver = ProjectResolver(lambda: client)  # type: ignore[arg-type,return-value]
    first = resolver.get("p")
    assert resolver.get("p") is first
    assert client.calls == 1
    assert first.stage("pre-label").title == "pre-label"


def test_pathway_lookup_by_name_uuid_and_uuid_string() -> None:
    stage = _stage()
    resolved = ResolvedStage.of(stage)
    pathway = stage.pathways[0]
    assert resolved.pathway("annotate") is pathway
    assert resolved.pathway(pathway.uuid) is pathway
    assert resolved.pathway(str(pathway.uuid)) is pathway
    with pytest.raises(UnknownPathwayError, match="'annotate'"):
        resolved.pathway(UUID(int=1))
    with pytest.raises(UnknownPathwayError, match="return a pathway name"):
        resolved.pathway(42)  # type: ignore[arg-type]


def test_a_stage_knows_its_pathways() -> None:
    stage = ResolvedStage.of(_stage())
    annotate = stage.stage.pathways[0]
    assert stage.knows("annotate")
    assert stage.knows(annotate.uuid)
    assert stage.knows(str(annotate.uuid))
    assert not stage.knows("anotate")
    assert not stage.knows(uuid4())
    assert not stage.knows(3)


def test_refresh_refetches_only_a_copy_old_enough() -> None:
    client = FakeClient(FakeProject(project_type=ProjectType.WORKFLOW, stages=[_stage()]))
    resolver = ProjectResolver(lambda: client)  # type: ignore[arg-type,return-value]
    first = resolver.get("p")
    assert resolver.refresh("p", min_age_s=60) is first
    assert client.calls == 1
    fresh = resolver.refresh("p", min_age_s=0)
    assert fresh is not first
    assert client.calls == 2
    assert resolver.get("p") is fresh


def _states(*pathways: object) -> list[TaskState]:
    states = []
    for pathway in pathways:
        state = TaskState(item=WorkItem(ref=TaskRef(uuid=uuid4(), data_hash=uuid4())))
        state.result = AgentReturn(pathway=pathway)
        states.append(state)
    return states


def test_an_unknown_pathway_rereads_the_stage_once_before_failing_the_task() -> None:
    cached = _stage()
    added = AgentPathway(uuid=uuid4(), name="escalate", destination_uuid=uuid4())
    now = AgentStage(uuid=cached.uuid, title=cached.title, pathways=[*cached.pathways, added], _workflow_client=None)  # type: ignore[arg-type]
    refreshes: list[int] = []

    def refresh() -> ResolvedStage:
        refreshes.append(1)
        return ResolvedStage.of(now)

    states = _states("escalate", "annotate", "escalate", "nope", None)
    resolve_pathways(states, ResolvedStage.of(cached), refresh=refresh)
    assert len(refreshes) == 1
    assert [s.pathway.name if s.pathway else None for s in states] == ["escalate", "annotate", "escalate", None, None]
    assert isinstance(states[3].error, UnknownPathwayError)
    assert all(s.error is None for i, s in enumerate(states) if i != 3)


def test_known_pathways_never_reread_the_stage() -> None:
    def refresh() -> ResolvedStage:
        raise AssertionError("not needed")

    states = _states("annotate", None, 7)
    resolve_pathways(states, ResolvedStage.of(_stage()), refresh=refresh)  # 7 is not a pathway at all: no re-read
    assert states[0].pathway is not None
    assert isinstance(states[2].error, UnknownPathwayError)
