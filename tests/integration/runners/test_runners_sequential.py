"""SequentialRunner against the emulator: passes, retries with backoff, summary, polling through errors."""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from typing import Annotated
from uuid import UUID

import pytest
from encord.objects.ontology_labels_impl import LabelRowV2
from encord.workflow.stages.agent import AgentTask

from runner_core import (
    ConfigurationError,
    Depends,
    Outcome,
    PermanentError,
    Runner,
    SequentialRunner,
    TaskAgentReturnStruct,
)
from tests.integration.runners.rc_env import PRE_LABEL, SECOND_LOOK, Env, add_brightness

resolutions: Tally[UUID] = Tally()


def _resolved_per_try(task: AgentTask) -> UUID:
    resolutions[task.uuid] += 1
    return task.uuid


def test_one_pass_moves_everything_and_prints_a_summary(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    callbacks: list[SequentialRunner] = []
    runner = Runner(env.project_hash, user_client=env.client, pre_execution_callback=callbacks.append)

    @runner.stage(PRE_LABEL)
    def label(lr: LabelRowV2) -> TaskAgentReturnStruct:
        add_brightness(lr, "bright")
        return TaskAgentReturnStruct(pathway="annotate", label_row=lr, label_row_priority=0.0)

    @runner.stage(SECOND_LOOK)
    def accept(task: AgentTask) -> str:
        return "accept"

    tasks = env.tasks()
    summary = runner(task_batch_size=5)
    assert callbacks == [runner]
    assert summary.count(Outcome.MOVED) == len(tasks) + 3
    assert env.emu.state.tasks_in_stage(env.project_hash, PRE_LABEL) == []
    assert env.emu.state.tasks_in_stage(env.project_hash, SECOND_LOOK) == []
    assert all(env.answers(t) == ["bright"] for t in tasks)
    assert all(env.emu.state.priority(t.data_hash) == 0.0 for t in tasks)
    out = capsys.readouterr().out
    assert "Agent run summary" in out
    assert PRE_LABEL in out


def test_retries_back_off_and_resolve_dependencies_again(env: Env) -> None:
    runner = SequentialRunner(env.project_hash, user_client=env.client)
    runner.retry_backoff_base_s = 0.01
    resolutions.clear()
    tasks = env.tasks()[:3]
    flaky, doomed = tasks[0].uuid, tasks[1].uuid
    agent_calls: Tally[UUID] = Tally()

    @runner.stage(PRE_LABEL)
    def agent(task: AgentTask, uuid: Annotated[UUID, Depends(_resolved_per_try)]) -> str:
        agent_calls[uuid] += 1
        if uuid == flaky and agent_calls[uuid] < 3:
            raise TimeoutError("model server busy")
        if uuid == doomed:
            raise PermanentError("unusable image")
        return "annotate"

    summary = runner.run_stage(PRE_LABEL, num_retries=3, max_tasks=3)
    assert summary.counts[Outcome.MOVED] == 2
    assert summary.counts[Outcome.FAILED] == 1
    assert summary.retries == 2
    assert agent_calls[flaky] == 3
    assert resolutions[flaky] == 3  # dependencies solved afresh on every try
    assert agent_calls[doomed] == 1  # permanent: not retried
    assert env.where(tasks[0]) == "Annotate"
    assert env.where(tasks[1]) == PRE_LABEL


def test_backoff_grows_exponentially_with_jitter() -> None:
    runner = SequentialRunner()
    runner.retry_backoff_base_s, runner.retry_backoff_max_s = 1.0, 5.0
    for retry, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        delays = {runner.backoff_delay(retry) for _ in range(20)}
        assert all(0.5 * base <= d <= 1.5 * base for d in delays)
        assert len(delays) > 1


def test_max_tasks_and_argument_checks(env: Env) -> None:
    runner = SequentialRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    def agent(task: AgentTask) -> str:
        return "skip"

    with pytest.raises(ConfigurationError, match="max_tasks_per_stage"):
        runner(max_tasks_per_stage=0)
    with pytest.raises(ConfigurationError, match="cannot run project"):
        runner(project_hash="00000000-0000-4000-8000-000000000002")
    before = len(env.tasks())
    summary = runner(max_tasks_per_stage=4)
    assert summary.count(Outcome.MOVED) == 4
    assert len(env.tasks()) == before - 4


def test_runner_without_project_takes_it_at_call_time(env: Env) -> None:
    runner = SequentialRunner(user_client=env.client)

    @runner.stage(SECOND_LOOK)
    def agent(task: AgentTask) -> str:
        return "redo"

    with pytest.raises(ConfigurationError, match="no project"):
        runner()
    summary = runner.run_stage(SECOND_LOOK, project_hash=env.project_hash)
    assert summary.counts[Outcome.MOVED] == 3


def test_polling_survives_transient_encord_errors(env: Env) -> None:
    client = env.emu.client(max_retries=0)
    runner = SequentialRunner(env.project_hash, user_client=client)

    @runner.stage(SECOND_LOOK)
    def agent(task: AgentTask) -> str:
        return "accept"

    listing = f"/v2/public/projects/{env.project_hash}/workflow/stages/{env.stage(SECOND_LOOK).uuid}/tasks"
    env.emu.set_faults(rate_503=1.0, path_prefix=listing)
    thread = threading.Thread(target=runner, kwargs={"refresh_every": 1})
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while env.emu.requests("GET " + listing) == 0 and env.emu.requests(listing) == 0:
            assert time.monotonic() < deadline, "the runner never listed tasks"
            time.sleep(0.05)
        env.emu.set_faults()  # Encord recovers
        while env.emu.state.tasks_in_stage(env.project_hash, SECOND_LOOK):
            assert time.monotonic() < deadline, "polling did not recover"
            time.sleep(0.05)
    finally:
        runner.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_command_line(env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    runner = SequentialRunner(user_client=env.client)

    @runner.stage(PRE_LABEL)
    def agent(task: AgentTask) -> str:
        return "annotate"

    before = len(env.tasks())
    monkeypatch.setattr("sys.argv", ["agent.py", "--project-hash", env.project_hash, "--max-tasks-per-stage", "2"])
    with pytest.raises(SystemExit) as done:
        runner.run()
    assert done.value.code == 0
    assert len(env.tasks()) == before - 2
    monkeypatch.setattr("sys.argv", ["agent.py"])  # no project anywhere: a clear error, exit code 2
    with pytest.raises(SystemExit) as failed:
        runner.run()
    assert failed.value.code == 2
    assert "no project" in capsys.readouterr().err
