"""Per-task isolation at every pipeline step, and the edge cases found in review (against the emulator)."""

from __future__ import annotations

from uuid import UUID

import pytest
from encord.objects.ontology_labels_impl import LabelRowV2
from encord.project import Project
from encord.workflow.stages.agent import AgentTask

from runner_core import (
    ConfigurationError,
    Outcome,
    QueueMessage,
    QueueRunner,
    SequentialRunner,
    TaskAgentReturnStruct,
)
from runner_core.disposition import Disposition, decide
from tests.integration.runners.rc_env import PRE_LABEL, SECOND_LOOK, Env, add_brightness, completion_result


@pytest.mark.timeout(30)
@pytest.mark.parametrize("raised", [SystemExit, KeyboardInterrupt])
def test_an_agent_raising_a_base_exception_fails_only_its_task(env: Env, raised: type[BaseException]) -> None:
    """SystemExit/KeyboardInterrupt from an agent used to stop the shared event loop: the call then hung forever."""
    runner = QueueRunner(env.project_hash, user_client=env.client)
    tasks = env.tasks()[:3]
    doomed = tasks[1].uuid

    @runner.stage(PRE_LABEL)
    def exits(lr: LabelRowV2, task: AgentTask) -> TaskAgentReturnStruct:
        if task.uuid == doomed:
            raise raised("bye")
        add_brightness(lr, "bright")
        return TaskAgentReturnStruct(pathway="annotate", label_row=lr)

    result = completion_result(exits(env.envelope(tasks)))
    assert [r.outcome for r in result.results] == [Outcome.MOVED, Outcome.FAILED, Outcome.MOVED]
    assert result.results[1].retryable
    assert (result.results[1].error or "").startswith(raised.__name__)
    assert [env.where(t) for t in tasks] == ["Annotate", PRE_LABEL, "Annotate"]
    # The runner still works afterwards (its event loop survived).
    again = [t for t in env.tasks() if t.uuid != doomed][:1]
    assert completion_result(exits(env.envelope(again))).results[0].outcome is Outcome.MOVED


def test_a_label_row_that_cannot_be_saved_fails_only_its_task(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)
    tasks = env.tasks()[:3]
    doomed = tasks[0].uuid

    @runner.stage(PRE_LABEL)
    def agent(lr: LabelRowV2, task: AgentTask, project: Project) -> TaskAgentReturnStruct:
        if task.uuid == doomed:  # a row never initialised: the SDK refuses to save it
            (fresh,) = project.list_label_rows_v2(data_hashes=[task.data_hash])
            return TaskAgentReturnStruct(pathway="annotate", label_row=fresh)
        add_brightness(lr, "bright")
        return TaskAgentReturnStruct(pathway="annotate", label_row=lr)

    result = completion_result(agent(env.envelope(tasks)))
    assert [r.outcome for r in result.results] == [Outcome.FAILED, Outcome.MOVED, Outcome.MOVED]
    assert env.where(tasks[0]) == PRE_LABEL  # labels not saved: the task does not move
    assert [env.where(t) for t in tasks[1:]] == ["Annotate", "Annotate"]
    assert [env.answers(t) for t in tasks[1:]] == [["bright"], ["bright"]]


def test_a_rejected_priority_fails_only_its_task(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)
    tasks = env.tasks()[:3]
    doomed = tasks[2].uuid

    @runner.stage(PRE_LABEL)
    def agent(lr: LabelRowV2, task: AgentTask) -> TaskAgentReturnStruct:
        add_brightness(lr, "dark")
        priority = 1.5 if task.uuid == doomed else 0.25  # Encord accepts priorities in [0, 1] only
        return TaskAgentReturnStruct(pathway="annotate", label_row=lr, label_row_priority=priority)

    result = completion_result(agent(env.envelope(tasks)))
    assert [r.outcome for r in result.results] == [Outcome.MOVED, Outcome.MOVED, Outcome.FAILED]
    assert [env.where(t) for t in tasks] == ["Annotate", "Annotate", PRE_LABEL]
    assert [env.emu.state.priority(t.data_hash) for t in tasks[:2]] == [0.25, 0.25]
    assert [env.answers(t) for t in tasks[:2]] == [["dark"], ["dark"]]


def test_a_rejected_move_skips_only_its_task(env: Env) -> None:
    """A task moved by someone else while its agent ran: Encord rejects the bundled move, the replay isolates it."""
    runner = QueueRunner(env.project_hash, user_client=env.client)
    tasks = env.tasks()[:3]
    raced = tasks[1].uuid

    @runner.stage(PRE_LABEL)
    def agent(lr: LabelRowV2, task: AgentTask) -> TaskAgentReturnStruct:
        if task.uuid == raced:
            other = next(t for t in env.tasks() if t.uuid == raced)
            other.proceed(pathway_name="skip")
        add_brightness(lr, "bright")
        return TaskAgentReturnStruct(pathway="annotate", label_row=lr)

    result = completion_result(agent(env.envelope(tasks)))
    assert [r.outcome for r in result.results] == [Outcome.MOVED, Outcome.SKIPPED, Outcome.MOVED]
    assert [env.where(t) for t in tasks] == ["Annotate", "Complete", "Annotate"]
    assert all(env.answers(t) == ["bright"] for t in tasks)  # its labels were saved before the move was tried


def test_priority_returned_with_its_label_row_needs_no_extra_listing(env: Env) -> None:
    """An agent that fetched and returned the row itself: its priority is set on that row, not on a re-listed one."""
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    def agent(task: AgentTask, project: Project) -> TaskAgentReturnStruct:
        (row,) = project.list_label_rows_v2(data_hashes=[task.data_hash])
        row.initialise_labels()
        add_brightness(row, "dark")
        return TaskAgentReturnStruct(pathway="annotate", label_row=row, label_row_priority=0.0)

    task = env.tasks()[0]
    body = env.envelope([task])
    runner.validate()
    env.emu.reset_counters()
    assert completion_result(agent(body)).success is True
    listings = env.emu.requests("POST /public labelrowmetadata") + env.emu.requests("GET /public labelrowmetadata")
    assert listings == 1, env.emu.request_counters()  # the agent's own listing only
    assert env.emu.state.priority(task.data_hash) == 0.0
    assert env.answers(task) == ["dark"]


def test_sequential_runner_accepts_the_same_project_hash_in_any_spelling(env: Env) -> None:
    runner = SequentialRunner(env.project_hash, user_client=env.client)

    @runner.stage(SECOND_LOOK)
    def agent(task: AgentTask) -> str:
        return "accept"

    summary = runner(project_hash=env.project_hash.upper())
    assert summary.count(Outcome.MOVED) == 3
    summary = runner(project_hash=UUID(env.project_hash))
    assert summary.count(Outcome.MOVED) == 0


def test_sequential_runner_rejects_nonsense_limits(env: Env) -> None:
    runner = SequentialRunner(env.project_hash, user_client=env.client)

    @runner.stage(SECOND_LOOK)
    def agent(task: AgentTask) -> str:
        return "accept"

    with pytest.raises(ConfigurationError, match="max_tasks"):
        runner.run_stage(SECOND_LOOK, max_tasks=0)
    with pytest.raises(ConfigurationError, match="max_tasks"):
        runner.run_stage(SECOND_LOOK, max_tasks=-1)
    with pytest.raises(ConfigurationError, match="refresh_every"):
        runner(refresh_every=0)
    assert len(env.tasks(SECOND_LOOK)) == 3  # nothing ran


def test_a_malformed_message_error_is_sanitised(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    def agent(task: AgentTask) -> str:
        return "annotate"

    body = '{"uuid": "token=abcdef0123456789", "data_hash": "x"}'
    (result,) = runner.process([QueueMessage("m", body)])
    assert decide(result).disposition is Disposition.DEAD_LETTER
    assert "abcdef0123456789" not in (result.error or "")
    assert "uuid" in (result.error or "")


@pytest.mark.parametrize("fault", ["rate_503", "rate_429"])
def test_encord_rejecting_priorities_fails_the_tasks_retryably_and_moves_none(env: Env, fault: str) -> None:
    client = env.emu.client(max_retries=0)
    runner = QueueRunner(env.project_hash, user_client=client)

    @runner.stage(PRE_LABEL)
    def agent(lr: LabelRowV2) -> TaskAgentReturnStruct:
        add_brightness(lr, "bright")
        return TaskAgentReturnStruct(pathway="annotate", label_row=lr, label_row_priority=0.3)

    tasks = env.tasks()[:3]
    body = env.envelope(tasks)
    rates = {"rate_503": 0.0, "rate_429": 0.0, fault: 1.0}
    priorities = f"/v2/public/projects/{env.project_hash}/priorities"
    env.emu.set_faults(rate_503=rates["rate_503"], rate_429=rates["rate_429"], retry_after_s=0, path_prefix=priorities)
    (result,) = runner.process([QueueMessage("m", body)])
    env.emu.set_faults()
    assert [t.outcome for t in result.tasks] == [Outcome.FAILED] * 3
    assert all(t.retryable for t in result.tasks)
    assert decide(result).disposition is Disposition.RETRY
    assert [env.where(t) for t in tasks] == [PRE_LABEL] * 3  # nothing moved without its priority
    assert all("[redacted" not in (t.error or "") and "Traceback" not in (t.error or "") for t in result.tasks)


def test_encord_failing_the_move_fails_the_tasks_retryably_after_their_labels_are_saved(env: Env) -> None:
    client = env.emu.client(max_retries=0)
    runner = QueueRunner(env.project_hash, user_client=client)

    @runner.stage(PRE_LABEL, failure_pathway="skip")
    def agent(lr: LabelRowV2) -> TaskAgentReturnStruct:
        add_brightness(lr, "dark")
        return TaskAgentReturnStruct(pathway="annotate", label_row=lr)

    tasks = env.tasks()[:2]
    stage_uuid = env.stage().uuid
    body = env.envelope(tasks)
    actions = f"/v2/public/projects/{env.project_hash}/workflow/stages/{stage_uuid}/actions"
    env.emu.set_faults(rate_503=1.0, path_prefix=actions)
    (result,) = runner.process([QueueMessage("m", body, attempt=1, max_attempts=3)])
    env.emu.set_faults()
    assert [t.outcome for t in result.tasks] == [Outcome.FAILED] * 2
    assert all(t.retryable and not t.routed_to_failure_pathway for t in result.tasks)
    assert [env.where(t) for t in tasks] == [PRE_LABEL] * 2
    assert [env.answers(t) for t in tasks] == [["dark"], ["dark"]]  # saved: the redelivery only has to move
    (again,) = runner.process([QueueMessage("m", body, attempt=2, max_attempts=3)])
    assert [t.outcome for t in again.tasks] == [Outcome.MOVED] * 2
    assert [env.answers(t) for t in tasks] == [["dark"], ["dark"]]  # still one answer, not two


def test_a_big_batch_lists_its_tasks_in_chunks(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from runner_core.runners import fetch

    monkeypatch.setattr(fetch, "REFETCH_CHUNK", 2)
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    def agent(task: AgentTask) -> str:
        return "annotate"

    tasks = env.tasks()[:5]
    body = env.envelope(tasks)
    runner.validate()
    env.emu.reset_counters()
    (result,) = runner.process([QueueMessage("m", body)])
    assert [t.outcome for t in result.tasks] == [Outcome.MOVED] * 5
    assert env.emu.requests("GET /v2/public/projects/{project}/workflow/stages/{stage}/tasks") == 3
