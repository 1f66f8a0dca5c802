"""The Encord request count on every task outcome, checked against the emulator's own request log."""

from __future__ import annotations

import logging
import threading

import pytest
from encord.objects.ontology_labels_impl import LabelRowV2
from encord.project import Project
from encord.storage import StorageItem
from encord.workflow.stages.agent import AgentTask

from functions.structured_logs import outcome_lines
from runner_core import MessageResult, Outcome, QueueMessage, QueueRunner, TaskAgentReturnStruct
from runner_core.disposition import Disposition, decide
from tests.integration.runners.rc_env import PRE_LABEL, SECOND_LOOK, Env, add_brightness


def test_each_outcome_carries_its_batch_request_count(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    def agent(lr: LabelRowV2, item: StorageItem) -> TaskAgentReturnStruct:
        add_brightness(lr, "bright")
        return TaskAgentReturnStruct(pathway="annotate", label_row=lr, label_row_priority=0.5)

    messages = [QueueMessage(f"m{i}", env.envelope([task])) for i, task in enumerate(env.tasks()[:5])]
    runner.validate()
    env.emu.reset_counters()
    with caplog.at_level(logging.DEBUG, logger="runner_core"):
        results = runner.process(messages)
    served = env.emu.requests()
    counts = {task.encord_requests for result in results for task in result.tasks}
    assert counts == {served}, env.emu.request_counters()
    assert 6 <= served <= 8  # tasks, rows, labels, storage items, save, priority, proceed
    logged = [r.task_outcome["encord_requests"] for r in caplog.records if hasattr(r, "task_outcome")]
    assert logged == [served] * 5


def test_requests_made_by_the_agent_itself_are_counted(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    def agent(task: AgentTask, project: Project) -> str:
        project.list_label_rows_v2(data_hashes=[task.data_hash])  # one extra SDK request per task
        return "annotate"

    body = env.envelope(env.tasks()[:3])
    runner.validate()
    env.emu.reset_counters()
    (result,) = runner.process([QueueMessage("m", body)])
    served = env.emu.requests()
    assert [t.encord_requests for t in result.tasks] == [served] * 3
    assert served == 2 + 3  # re-fetch, proceed, and the agents' three listings


def test_concurrent_batches_count_only_their_own_requests(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)
    first_running, second_running = threading.Event(), threading.Event()

    @runner.stage(PRE_LABEL)
    def first(lr: LabelRowV2) -> TaskAgentReturnStruct:
        first_running.set()
        assert second_running.wait(10)  # both batches are in flight at once
        add_brightness(lr, "dark")
        return TaskAgentReturnStruct(pathway="annotate", label_row=lr)

    @runner.stage(SECOND_LOOK)
    def second(task: AgentTask) -> str:
        second_running.set()
        assert first_running.wait(10)
        return "accept"

    bodies = [env.envelope(env.tasks(PRE_LABEL)[:4]), env.envelope(env.tasks(SECOND_LOOK)[:1], SECOND_LOOK)]
    runner.validate()
    env.emu.reset_counters()
    results: dict[int, MessageResult] = {}

    def deliver(index: int) -> None:
        (results[index],) = runner.process([QueueMessage(str(index), bodies[index])])

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(t.outcome is Outcome.MOVED for r in results.values() for t in r.tasks)
    labelled, routed = results[0].tasks[0].encord_requests, results[1].tasks[0].encord_requests
    assert labelled is not None
    assert routed is not None
    assert routed == 2  # re-fetch and proceed, none of the other batch's label requests
    assert labelled + routed == env.emu.requests(), env.emu.request_counters()


def test_a_task_that_never_reached_a_batch_has_no_count(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage("no such stage")
    def agent(task: AgentTask) -> str:
        return "annotate"

    (result,) = runner.process([QueueMessage("m", env.tasks()[0].model_dump_json())])
    assert decide(result).disposition is Disposition.DEAD_LETTER
    assert result.tasks[0].encord_requests is None


def test_the_functions_outcome_line_reports_the_count(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    def agent(task: AgentTask) -> str:
        return "annotate"

    message = QueueMessage("m", env.envelope(env.tasks()[:2]), attempt=2)
    runner.validate()
    env.emu.reset_counters()
    results = runner.process([message])
    served = env.emu.requests()
    lines = list(outcome_lines(results, {"m": message}, cold_start=False))
    assert [fields["encord_requests"] for _, _, fields in lines] == [served, served]
    assert all(fields["message_id"] == "m" and fields["attempt"] == 2 for _, _, fields in lines)
