"""QueueRunner against the emulator with the real SDK: encord-agents-style agents, batching, isolation, duplicates."""

from __future__ import annotations

import json
import threading
from typing import Annotated, Any
from uuid import UUID

import pytest
from encord.objects.ontology_labels_impl import LabelRowV2
from encord.project import Project
from encord.storage import StorageItem
from encord.user_client import EncordUserClient
from encord.workflow.stages.agent import AgentStage, AgentTask

from runner_core import (
    Depends,
    Outcome,
    PermanentError,
    QueueMessage,
    QueueRunner,
    TaskAgentReturnStruct,
    TaskCompletionResult,
)
from runner_core.disposition import Disposition, decide
from runner_core.messages import encode_envelope
from tests.integration.runners.rc_env import PRE_LABEL, SECOND_LOOK, Env, EnvFactory, add_brightness, completion_result


def test_pathway_name_moves_the_task_and_keeps_the_single_task_json(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    def by_name(task: AgentTask) -> str:
        return "annotate"

    task = env.tasks()[0]
    result = json.loads(by_name(task.model_dump_json()))
    pathway = next(p for p in env.stage().pathways if p.name == "annotate")
    assert result["task_uuid"] == str(task.uuid)
    assert result["stage_uuid"] == str(env.stage().uuid)
    assert result["success"] is True
    assert result["pathway"] == str(pathway.uuid)
    assert result["error"] is None
    assert result["results"][0]["outcome"] == "moved"
    assert result["results"][0]["pathway"] == {"uuid": str(pathway.uuid), "name": "annotate"}
    assert env.where(task) == "Annotate"
    assert by_name.__wrapped__(task) == "annotate"


@pytest.mark.parametrize("as_string", [False, True])
def test_pathway_uuid_moves_the_task(env: Env, as_string: bool) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)
    skip = next(p for p in env.stage().pathways if p.name == "skip")

    @runner.stage(env.stage().uuid)  # a stage by uuid works as well as by title
    def by_uuid(stage: AgentStage) -> str | UUID:
        pathway = next(p for p in stage.pathways if p.name == "skip")
        return str(pathway.uuid) if as_string else pathway.uuid

    tasks = env.tasks()[:2]
    result = completion_result(by_uuid([t.model_dump_json() for t in tasks]))
    assert result.success == [t.uuid for t in tasks]
    assert result.pathway == [skip.uuid, skip.uuid]
    assert [env.where(t) for t in tasks] == ["Complete", "Complete"]


def test_none_holds_the_task_and_still_saves_labels(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    def hold(lr: LabelRowV2) -> TaskAgentReturnStruct:
        add_brightness(lr, "dark")
        return TaskAgentReturnStruct(pathway=None, label_row=lr)

    task = env.tasks()[0]
    result = completion_result(hold(task.model_dump_json()))
    assert result.success is True
    assert result.pathway is None
    assert result.results[0].outcome is Outcome.HELD
    assert env.where(task) == PRE_LABEL
    assert env.answers(task) == ["dark"]


def test_struct_with_label_row_and_priority(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    def label_and_rank(lr: LabelRowV2, task: AgentTask) -> TaskAgentReturnStruct:
        add_brightness(lr, "bright")
        priority = 0.0 if task.data_title.endswith("000.png") else 0.75  # 0.0 is a real priority
        return TaskAgentReturnStruct(pathway="annotate", label_row=lr, label_row_priority=priority)

    tasks = sorted(env.tasks()[:3], key=lambda t: t.data_title)
    result = completion_result(label_and_rank(env.envelope(tasks)))
    assert [r.outcome for r in result.results] == [Outcome.MOVED] * 3
    assert [env.where(t) for t in tasks] == ["Annotate"] * 3
    assert [env.answers(t) for t in tasks] == [["bright"]] * 3
    assert [env.emu.state.priority(t.data_hash) for t in tasks] == [0.0, 0.75, 0.75]


def _title(task: AgentTask) -> str:
    return task.data_title


def _title_length(title: Annotated[str, Depends(_title)]) -> int:
    return len(title)


class Counter:
    """A class used as its own factory: `Depends()` without an argument."""

    def __init__(self, project: Project) -> None:
        self.title = project.title


def test_annotated_and_default_value_depends_with_nested_dependencies(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)
    seen: list[tuple[str, int, str, bool, str]] = []

    @runner.stage(PRE_LABEL)
    def documented_style(
        title: Annotated[str, Depends(_title)],
        length: int = Depends(_title_length),
        counter: Annotated[Counter, Depends()] = None,  # type: ignore[assignment]
        client: EncordUserClient = None,  # type: ignore[assignment]
        storage_item: StorageItem = None,  # type: ignore[assignment]
    ) -> str:
        seen.append((title, length, counter.title, client is env.client, storage_item.name))
        return "skip"

    tasks = env.tasks()[:2]
    result = completion_result(documented_style(env.envelope(tasks)))
    assert result.success == [t.uuid for t in tasks]
    assert sorted(seen) == sorted((t.data_title, len(t.data_title), "runner tests", True, t.data_title) for t in tasks)


async def pathway_for(task: AgentTask) -> str:
    return "skip" if task.data_title.endswith("1.png") else "annotate"


def test_async_agent_and_async_dependency(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    async def async_agent(pathway: Annotated[str, Depends(pathway_for)]) -> str:
        return pathway

    tasks = sorted(env.tasks()[:2], key=lambda t: t.data_title)
    completion_result(async_agent(env.envelope(tasks)))
    assert [env.where(t) for t in tasks] == ["Annotate", "Complete"]


def test_one_failing_agent_in_ten_leaves_nine_moved_with_labels(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)
    tasks = env.tasks()[:10]
    doomed = tasks[4].uuid

    @runner.stage(PRE_LABEL)
    def sometimes_fails(lr: LabelRowV2, task: AgentTask) -> TaskAgentReturnStruct:
        if task.uuid == doomed:
            raise RuntimeError("model crashed")
        add_brightness(lr, "bright")
        return TaskAgentReturnStruct(pathway="annotate", label_row=lr)

    result = completion_result(sometimes_fails(env.envelope(tasks)))
    by_task = {r.task_uuid: r for r in result.results}
    assert [r.task_uuid for r in result.results] == [t.uuid for t in tasks]  # aligned with the input
    assert by_task[doomed].outcome is Outcome.FAILED
    assert by_task[doomed].retryable
    assert by_task[doomed].error == "RuntimeError: model crashed"
    for task in tasks:
        if task.uuid == doomed:
            assert env.where(task) == PRE_LABEL
            assert env.answers(task) == []
        else:
            assert env.where(task) == "Annotate"
            assert env.answers(task) == ["bright"]
    assert set(result.success) == {t.uuid for t in tasks} - {doomed}  # type: ignore[arg-type]


def test_unknown_pathway_fails_that_task_permanently(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)
    tasks = env.tasks()[:3]

    @runner.stage(PRE_LABEL)
    def typo(task: AgentTask) -> str:
        return "anotate" if task.uuid == tasks[0].uuid else "annotate"

    result = completion_result(typo(env.envelope(tasks)))
    first, *rest = result.results
    assert first.outcome is Outcome.FAILED
    assert not first.retryable
    assert "anotate" in (first.error or "")
    assert "'annotate'" in (first.error or "")  # the valid pathways are listed
    assert [r.outcome for r in rest] == [Outcome.MOVED, Outcome.MOVED]
    assert [env.where(t) for t in tasks] == [PRE_LABEL, "Annotate", "Annotate"]


def test_permanent_error_routes_to_failure_pathway(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)
    tasks = env.tasks()[:2]

    @runner.stage(PRE_LABEL, failure_pathway="skip")
    def rejects(task: AgentTask) -> str:
        if task.uuid == tasks[0].uuid:
            raise PermanentError("corrupt image")
        return "annotate"

    result = completion_result(rejects(env.envelope(tasks)))
    failed, moved = result.results
    assert failed.outcome is Outcome.FAILED
    assert failed.routed_to_failure_pathway
    assert not failed.retryable
    assert failed.pathway is not None
    assert failed.pathway.name == "skip"
    assert moved.outcome is Outcome.MOVED
    assert [env.where(t) for t in tasks] == ["Complete", "Annotate"]


def test_retryable_failure_routes_to_failure_pathway_only_on_the_last_attempt(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL, failure_pathway="skip")
    def flaky(task: AgentTask) -> str:
        raise TimeoutError("model server timed out")

    task = env.tasks()[0]
    body = env.envelope([task])
    (early,) = runner.process([QueueMessage("m1", body, attempt=1, max_attempts=3)])
    assert decide(early).disposition is Disposition.RETRY
    assert env.where(task) == PRE_LABEL
    (last,) = runner.process([QueueMessage("m1", body, attempt=3, max_attempts=3)])
    assert last.tasks[0].routed_to_failure_pathway
    # The task failed for good, and the failure is visible in Encord: the message is acked, not dead-lettered.
    assert not last.tasks[0].retryable
    assert decide(last).disposition is Disposition.ACK
    assert env.where(task) == "Complete"


def test_task_no_longer_at_the_stage_is_skipped(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)
    calls: list[UUID] = []

    @runner.stage(PRE_LABEL)
    def agent(task: AgentTask) -> str:
        calls.append(task.uuid)
        return "annotate"

    moved, waiting = env.tasks()[:2]
    moved.proceed(pathway_name="skip")  # someone else moved it
    result = completion_result(agent(env.envelope([moved, waiting])))
    assert [r.outcome for r in result.results] == [Outcome.SKIPPED, Outcome.MOVED]
    assert calls == [waiting.uuid]
    assert env.where(moved) == "Complete"


def test_same_message_twice_in_sequence_moves_each_task_once(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)
    calls: list[UUID] = []

    @runner.stage(PRE_LABEL)
    def agent(lr: LabelRowV2) -> TaskAgentReturnStruct:
        calls.append(UUID(lr.data_hash))
        add_brightness(lr, "bright")
        return TaskAgentReturnStruct(pathway="annotate", label_row=lr)

    tasks = env.tasks()[:3]
    body = env.envelope(tasks)
    first = completion_result(agent(body))
    second = completion_result(agent(body))
    assert [r.outcome for r in first.results] == [Outcome.MOVED] * 3
    assert [r.outcome for r in second.results] == [Outcome.SKIPPED] * 3
    assert len(calls) == 3
    assert [env.where(t) for t in tasks] == ["Annotate"] * 3


def test_same_message_twice_at_once_moves_each_task_once(env_factory: EnvFactory) -> None:
    env = env_factory()
    runner = QueueRunner(env.project_hash, user_client=env.client)
    entered = threading.Barrier(2, timeout=10)

    @runner.stage(PRE_LABEL)
    def agent(task: AgentTask) -> str:
        return "annotate"

    tasks = env.tasks()[:4]
    body = env.envelope(tasks)
    results: list[TaskCompletionResult] = []

    def deliver() -> None:
        entered.wait()
        results.append(completion_result(agent(body)))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 2
    for index in range(len(tasks)):
        outcomes = sorted(r.results[index].outcome.value for r in results)
        assert outcomes == ["moved", "skipped"]
    assert [env.where(t) for t in tasks] == ["Annotate"] * 4
    # Two runners (two processes) racing: Encord's answer decides, each task still moves once.
    other = QueueRunner(env.project_hash, user_client=env.emu.client())

    @other.stage(PRE_LABEL)
    def same(task: AgentTask) -> str:
        return "annotate"

    rest = env.tasks()[:3]
    body = env.envelope(rest)
    racing: list[TaskCompletionResult] = []
    barrier = threading.Barrier(2, timeout=10)

    def deliver_to(fn: Any) -> None:
        barrier.wait()
        racing.append(completion_result(fn(body)))

    threads = [threading.Thread(target=deliver_to, args=(fn,)) for fn in (agent, same)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    moved = [r.task_uuid for result in racing for r in result.results if r.outcome is Outcome.MOVED]
    assert sorted(str(u) for u in moved) == sorted(str(t.uuid) for t in rest)  # each task moved by exactly one of them
    assert all(r.outcome in (Outcome.MOVED, Outcome.SKIPPED) for result in racing for r in result.results)


def test_priority_only_agent(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL, will_set_priority=True)
    def rank(task: AgentTask) -> TaskAgentReturnStruct:
        return TaskAgentReturnStruct(pathway="annotate", label_row_priority=0.0)

    # Also without will_set_priority: the rows are listed after the agent instead of failing the task.
    runner2 = QueueRunner(env.project_hash, user_client=env.client)

    @runner2.stage(PRE_LABEL)
    def rank_undeclared(task: AgentTask) -> TaskAgentReturnStruct:
        return TaskAgentReturnStruct(pathway=None, label_row_priority=0.9)

    first, second = env.tasks()[:2]
    assert env.emu.state.priority(first.data_hash) == 0.5
    assert completion_result(rank(first.model_dump_json())).success is True
    assert env.emu.state.priority(first.data_hash) == 0.0
    assert env.where(first) == "Annotate"
    assert completion_result(rank_undeclared(second.model_dump_json())).success is True
    assert env.emu.state.priority(second.data_hash) == 0.9


def test_process_routes_envelopes_by_stage_and_reports_bad_messages(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    def first(task: AgentTask) -> str:
        return "annotate"

    @runner.stage(SECOND_LOOK)
    def second(task: AgentTask) -> str:
        return "accept"

    pre, look = env.tasks(PRE_LABEL)[0], env.tasks(SECOND_LOOK)[0]
    other_project = encode_envelope(
        project_hash="00000000-0000-4000-8000-000000000009", stage_uuid=env.stage().uuid, tasks=[pre]
    )
    results = runner.process(
        [
            QueueMessage("a", env.envelope([pre], PRE_LABEL)),
            QueueMessage("b", "not json"),
            QueueMessage("c", env.envelope([look], SECOND_LOOK)),
            QueueMessage("d", look.model_dump_json()),  # bare form: ambiguous with two stages
            QueueMessage("e", other_project),
        ]
    )
    assert [r.message_id for r in results] == ["a", "b", "c", "d", "e"]
    assert [r.ok for r in results] == [True, False, True, False, False]
    ack, dead = Disposition.ACK, Disposition.DEAD_LETTER
    assert [decide(r).disposition for r in results] == [ack, dead, ack, dead, dead]
    assert results[0].tasks[0].outcome is Outcome.MOVED
    assert "not JSON" in (results[1].error or "")
    assert results[2].tasks[0].pathway_name == "accept"
    assert "names no stage" in (results[3].tasks[0].error or "")
    assert "this runner serves" in (results[4].tasks[0].error or "")
    assert env.where(pre) == "Annotate"
    assert env.where(look) == "Complete"


def test_deadline_fails_unstarted_tasks_retryably(env: Env) -> None:
    import time

    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    def agent(task: AgentTask) -> str:
        return "annotate"

    task = env.tasks()[0]
    (result,) = runner.process([QueueMessage("m", env.envelope([task]))], deadline=time.monotonic() + 0.5)
    assert decide(result).disposition is Disposition.RETRY
    assert result.tasks[0].error == "deadline"
    assert env.where(task) == PRE_LABEL


def test_wrapper_never_raises_on_a_bad_message(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    def agent(task: AgentTask) -> str:
        return "annotate"

    result = completion_result(agent("{}"))
    assert result.success is False
    assert "field 'uuid' is missing" in (result.error or "")


def test_messages_of_one_stage_are_processed_as_one_batch(env: Env) -> None:
    """An SQS batch of 10 one-task messages costs the same Encord requests as one 10-task message."""
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    def label(lr: LabelRowV2) -> TaskAgentReturnStruct:
        add_brightness(lr, "bright")
        return TaskAgentReturnStruct(pathway="annotate", label_row=lr)

    tasks = env.tasks()[:10]
    messages = [QueueMessage(f"m{i}", env.envelope([task]), attempt=2, max_attempts=5) for i, task in enumerate(tasks)]
    runner.validate()
    env.emu.reset_counters()
    results = runner.process(messages)
    assert env.emu.requests() <= 6, env.emu.request_counters()
    assert [r.message_id for r in results] == [m.message_id for m in messages]
    assert [r.tasks[0].task_uuid for r in results] == [t.uuid for t in tasks]
    assert all(r.ok for r in results)
    assert all(env.answers(t) == ["bright"] for t in tasks)


def test_wrapper_accepts_a_non_string_without_raising(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    def agent(task: AgentTask) -> str:
        return "annotate"

    result = completion_result(agent([{"uuid": "x"}]))  # type: ignore[list-item]
    assert result.success is False
    assert "must be str or bytes" in (result.error or "")
