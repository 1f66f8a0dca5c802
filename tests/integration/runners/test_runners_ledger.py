"""QueueRunner.process with a task ledger, against the emulator with the real SDK: where the claim sits in the
pipeline (after the re-fetch, before labels and the agent) and how each outcome settles. The in-memory store keeps
these about the runner; the cloud stores run the same contract in tests/integration/functions."""

from __future__ import annotations

import logging

import pytest
from encord.objects.ontology_labels_impl import LabelRowV2
from encord.workflow.stages.agent import AgentTask

from runner_core import Outcome, PermanentError, QueueMessage, QueueRunner
from runner_core.ledger import (
    ClaimStatus,
    EntryState,
    Episode,
    InMemoryStore,
    LedgerSettings,
    Seen,
    TaskLedger,
)
from tests.integration.runners.rc_env import PRE_LABEL, Env


class _Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _setup(
    env: Env, *, agent_returns: str | None = "annotate", fails: bool = False, **settings: float
) -> tuple[QueueRunner, TaskLedger, InMemoryStore, list[str], _Clock]:
    store, clock = InMemoryStore(), _Clock()
    ledger = TaskLedger(store, settings=LedgerSettings.model_validate(settings), clock=clock)
    runner = QueueRunner(env.project_hash, user_client=env.client, ledger=ledger)
    ran: list[str] = []

    @runner.stage(PRE_LABEL)
    def agent(task: AgentTask, label_row: LabelRowV2) -> str | None:
        ran.append(str(task.uuid))
        if fails:
            raise PermanentError("this task can never work")
        return agent_returns

    return runner, ledger, store, ran, clock


def _episode(env: Env, task: AgentTask) -> Episode:
    return Episode.of(
        project_hash=env.project_hash, stage_uuid=env.stage().uuid, task_uuid=task.uuid, updated_at=task.updated_at
    )


def test_a_duplicate_delivery_is_skipped_before_any_label_request(env: Env) -> None:
    runner, ledger, _, ran, _ = _setup(env)
    task = env.tasks()[0]
    (held,) = ledger.claim([_episode(env, task)], holder=["another-instance"], lease_s=60)
    assert held.status is ClaimStatus.CLAIMED
    env.emu.reset_counters()

    (result,) = runner.process([QueueMessage(message_id="m1", body=env.envelope([task]))])

    assert result.tasks[0].outcome is Outcome.SKIPPED
    assert result.tasks[0].error == "duplicate: the task is running in another delivery"
    assert ran == []
    assert env.where(task) == PRE_LABEL
    # Only the re-fetch and the label-row listing that overlaps it ran: no label load, no save, no move.
    assert set(env.emu.request_counters()) <= {
        "GET /v2/public/projects/{project}",
        "GET /v2/public/ontologies/{ontology}",
        "POST /public labelrowmetadata.GET",
        "GET /v2/public/projects/{project}/workflow/stages/{stage}/tasks",
    }


def test_a_redelivery_of_the_message_holding_the_claim_is_retried_not_run(env: Env) -> None:
    runner, ledger, _, ran, _ = _setup(env)
    task = env.tasks()[0]
    ledger.claim([_episode(env, task)], holder=["m1"], lease_s=60)  # m1's first delivery is still running

    (result,) = runner.process([QueueMessage(message_id="m1", body=env.envelope([task]), attempt=2)])

    assert result.tasks[0].outcome is Outcome.FAILED
    assert result.tasks[0].retryable
    assert ran == []


def test_moved_settles_done_and_a_late_copy_is_skipped(env: Env) -> None:
    runner, _, store, ran, _ = _setup(env)
    task = env.tasks()[0]
    (first,) = runner.process([QueueMessage(message_id="m1", body=env.envelope([task]))])
    (second,) = runner.process([QueueMessage(message_id="m2", body=env.envelope([task]))])
    assert first.tasks[0].outcome is Outcome.MOVED
    assert second.tasks[0].outcome is Outcome.SKIPPED  # the re-fetch no longer finds it at the stage
    assert ran == [str(task.uuid)]
    assert store.snapshot()[_episode(env, task).key].state is EntryState.DONE


def test_held_reruns_only_after_the_recheck_interval(env: Env) -> None:
    runner, ledger, _, ran, clock = _setup(env, agent_returns=None, held_recheck_s=900)
    task = env.tasks()[0]
    body = env.envelope([task])
    (first,) = runner.process([QueueMessage(message_id="m1", body=body)])
    (copy,) = runner.process([QueueMessage(message_id="m2", body=body)])
    assert first.tasks[0].outcome is Outcome.HELD
    assert copy.tasks[0].outcome is Outcome.SKIPPED
    assert ledger.lookup([_episode(env, task)]) == [Seen.DONE_RECENTLY]
    clock.now += 901
    (later,) = runner.process([QueueMessage(message_id="m3", body=body)])
    assert later.tasks[0].outcome is Outcome.HELD
    assert ran == [str(task.uuid)] * 2


def test_permanent_failure_settles_failed_for_the_window(env: Env) -> None:
    runner, ledger, _, _, clock = _setup(env, fails=True, failed_window_s=3600)
    task = env.tasks()[0]
    (result,) = runner.process([QueueMessage(message_id="m1", body=env.envelope([task]))])
    assert result.tasks[0].outcome is Outcome.FAILED
    assert not result.tasks[0].retryable
    assert ledger.lookup([_episode(env, task)]) == [Seen.FAILED_RECENTLY]
    clock.now += 3601
    assert ledger.lookup([_episode(env, task)]) == [Seen.NEW]


def test_store_outage_fails_open_and_runs_the_task(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    ledger = TaskLedger(InMemoryStore(fail=lambda: True), settings=LedgerSettings())
    runner = QueueRunner(env.project_hash, user_client=env.client, ledger=ledger)

    @runner.stage(PRE_LABEL)
    def agent(task: AgentTask) -> str:
        return "annotate"

    task = env.tasks()[0]
    with caplog.at_level(logging.ERROR, logger="runner_core.ledger"):
        (result,) = runner.process([QueueMessage(message_id="m1", body=env.envelope([task]))])
    assert result.tasks[0].outcome is Outcome.MOVED
    assert any("LEDGER UNAVAILABLE during claim" in r.getMessage() for r in caplog.records)


def test_store_outage_failing_closed_retries_the_task(env: Env) -> None:
    ledger = TaskLedger(InMemoryStore(fail=lambda: True), settings=LedgerSettings(fail_closed=True))
    runner = QueueRunner(env.project_hash, user_client=env.client, ledger=ledger)
    ran: list[str] = []

    @runner.stage(PRE_LABEL)
    def agent(task: AgentTask) -> str:
        ran.append(str(task.uuid))
        return "annotate"

    task = env.tasks()[0]
    (result,) = runner.process([QueueMessage(message_id="m1", body=env.envelope([task]))])
    assert result.tasks[0].outcome is Outcome.FAILED
    assert result.tasks[0].retryable
    assert ran == []
    assert env.where(task) == PRE_LABEL
