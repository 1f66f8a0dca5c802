"""Construction, decoration and validation: lazy (no network) until first use, clear errors when asked."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from encord.objects.ontology_labels_impl import LabelRowV2
from encord.workflow.stages.agent import AgentTask

from runner_core import (
    ConfigurationError,
    DependencyDefinitionError,
    Depends,
    DuplicateStageError,
    Outcome,
    ProjectError,
    QueueMessage,
    QueueRunner,
    SequentialRunner,
    StageNotFoundError,
    TaskAgentReturnStruct,
    UnknownPathwayError,
)
from runner_core.disposition import Disposition, decide
from tests.integration.runners.rc_env import PRE_LABEL, SECOND_LOOK, Env

PROJECT = "5a1e0000-0000-4000-8000-000000000001"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise ConnectionRefusedError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.delenv("ENCORD_SSH_KEY", raising=False)
    monkeypatch.delenv("ENCORD_SSH_KEY_FILE", raising=False)
    return attempts


def _dep(task: AgentTask) -> str:
    return task.data_title


def test_construction_and_decoration_make_no_request(no_network: list[Any]) -> None:
    runner = QueueRunner(PROJECT)  # no client, no key in the environment, no network

    @runner.stage(PRE_LABEL)
    def first(lr: LabelRowV2, title: Annotated[str, Depends(_dep)]) -> str:
        return "annotate"

    @runner.stage(SECOND_LOOK, failure_pathway="redo")
    async def second(task: AgentTask) -> None:
        return None

    sequential = SequentialRunner()

    @sequential.stage("anything")
    def third(task: AgentTask) -> str:
        return "x"

    assert no_network == []
    assert [a.identity for a in runner.agents] == [PRE_LABEL, SECOND_LOOK]
    assert third.__name__ == "third"  # SequentialRunner returns the function unchanged


def test_unsupported_parameter_is_reported_at_decoration() -> None:
    runner = QueueRunner(PROJECT)
    with pytest.raises(DependencyDefinitionError, match="'threshold'"):

        @runner.stage(PRE_LABEL)
        def agent(threshold: float) -> str:
            return "annotate"

    assert runner.agents == ()


def test_invalid_project_hash_and_duplicate_stage() -> None:
    with pytest.raises(ConfigurationError, match="project_hash must be a UUID"):
        QueueRunner("not-a-uuid")
    runner = QueueRunner(PROJECT)

    @runner.stage(PRE_LABEL)
    def one(task: AgentTask) -> str:
        return "annotate"

    with pytest.raises(DuplicateStageError, match="overwrite=True"):

        @runner.stage(PRE_LABEL)
        def two(task: AgentTask) -> str:
            return "skip"

    @runner.stage(PRE_LABEL, overwrite=True)
    def three(task: AgentTask) -> str:
        return "skip"

    assert [a.callable for a in runner.agents] == [three.__wrapped__]


def test_validate_lists_the_valid_stages(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage("pre-lable")
    def typo(task: AgentTask) -> str:
        return "annotate"

    with pytest.raises(StageNotFoundError, match="no stage 'pre-lable'") as info:
        runner.validate()
    assert "'pre-label'" in str(info.value)
    assert "'second-look'" in str(info.value)


def test_validate_rejects_a_non_agent_stage_and_unknown_failure_pathway(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage("Annotate")
    def people(task: AgentTask) -> str:
        return "x"

    with pytest.raises(StageNotFoundError, match="not an agent stage"):
        runner.validate()

    other = QueueRunner(env.project_hash, user_client=env.client)

    @other.stage(PRE_LABEL, failure_pathway="trash")
    def agent(task: AgentTask) -> str:
        return "annotate"

    with pytest.raises(UnknownPathwayError, match="'trash'"):
        other.validate()


def test_validate_rejects_an_unknown_project(env: Env) -> None:
    runner = QueueRunner("00000000-0000-4000-8000-00000000dead", user_client=env.client)

    @runner.stage(PRE_LABEL)
    def agent(task: AgentTask) -> str:
        return "annotate"

    with pytest.raises(ProjectError, match="not found"):
        runner.validate()


def test_unknown_stage_at_run_time_fails_permanently_without_raising(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage("no-such-stage")
    def agent(task: AgentTask) -> str:
        return "annotate"

    task = env.tasks()[0]
    result = agent(task.model_dump_json())
    assert '"success":false' in result
    (message,) = runner.process([QueueMessage("m", task.model_dump_json())])
    assert decide(message).disposition is Disposition.DEAD_LETTER
    assert "no stage 'no-such-stage'" in (message.tasks[0].error or "")
    assert env.where(task) == PRE_LABEL


def _broken_dependency(task: AgentTask) -> str:
    if task.data_title.endswith("001.png"):
        raise ConnectionError("download failed")
    return task.data_title


teardowns: list[str] = []


def _tracked(task: AgentTask) -> Iterator[str]:
    try:
        yield task.data_title
    finally:
        teardowns.append(task.data_title)


def test_dependency_failure_fails_only_its_task_and_teardown_always_runs(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)
    teardowns.clear()

    @runner.stage(PRE_LABEL)
    def agent(title: Annotated[str, Depends(_broken_dependency)], tracked: Annotated[str, Depends(_tracked)]) -> str:
        if title.endswith("002.png"):
            raise ValueError("agent bug")
        return "annotate"

    tasks = sorted(env.tasks()[:3], key=lambda t: t.data_title)
    body = env.envelope(tasks)
    (result,) = runner.process([QueueMessage("m", body)])
    outcomes = {t.task_uuid: t for t in result.tasks}
    assert outcomes[tasks[0].uuid].outcome is Outcome.MOVED
    assert outcomes[tasks[1].uuid].outcome is Outcome.FAILED
    assert outcomes[tasks[1].uuid].retryable
    assert "download failed" in (outcomes[tasks[1].uuid].error or "")
    assert outcomes[tasks[2].uuid].outcome is Outcome.FAILED
    assert outcomes[tasks[2].uuid].error == "ValueError: agent bug"
    assert decide(result).disposition is Disposition.RETRY
    assert [env.where(t) for t in tasks] == ["Annotate", PRE_LABEL, PRE_LABEL]
    # the generator dependency was torn down for every task it was created for, also when the agent raised
    assert {tasks[0].data_title, tasks[2].data_title} <= set(teardowns)


def _temp_file(task: AgentTask) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{task.uuid}.bin"
        path.write_bytes(b"media")
        yield path


def test_task_scope_closes_before_labels_are_saved(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)
    checked: list[bool] = []

    @runner.stage(PRE_LABEL)
    def agent(lr: LabelRowV2, path: Annotated[Path, Depends(_temp_file)]) -> TaskAgentReturnStruct:
        assert path.read_bytes() == b"media"
        save = lr.save

        def save_and_check(*args: Any, **kwargs: Any) -> None:
            checked.append(path.exists())  # the temporary file must be gone by now
            save(*args, **kwargs)

        lr.save = save_and_check  # type: ignore[method-assign]
        return TaskAgentReturnStruct(pathway="annotate", label_row=lr)

    tasks = env.tasks()[:3]
    body = env.envelope(tasks)
    (result,) = runner.process([QueueMessage("m", body)])
    assert result.ok
    assert checked == [False, False, False]
