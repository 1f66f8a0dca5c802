"""The bounded producer (`runner_core.backlog`) over a stand-in stage listing and the in-memory ledger: pages are
published as they stream, nothing live is published twice, a failed publish is undone, the deadline stops a run
cleanly, and one run at a time holds a stage."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast
from uuid import UUID, uuid4

from encord.workflow.stages.agent import AgentTask, AgentTaskStatus

from runner_core.backlog import drain_backlog
from runner_core.ledger import InMemoryStore, LedgerSettings, TaskLedger
from runner_core.messages import decode_message
from runner_core.producer import OutboundMessage
from runner_core.protocols import TaskSource

PROJECT = "00000000-0000-4000-8000-000000000001"


def _task() -> AgentTask:
    return AgentTask(
        uuid=uuid4(),
        created_at=datetime(2026, 11, 24, 5, tzinfo=UTC),
        updated_at=datetime(2026, 11, 24, 5, 30, tzinfo=UTC),
        status="NEW",
        data_hash=uuid4(),
        data_title="image.jpg",
        label_branch_name="main",
        assignee=None,
        last_actioned_by=None,
    )


@dataclass
class _Stage:
    """Stands in for an AgentStage whose listing is a lazy generator, like the SDK's paged one."""

    uuid: UUID
    tasks: list[AgentTask]
    seconds_per_task: float = 0.0
    yielded: int = 0

    def get_tasks(self, *, status: list[AgentTaskStatus] | None = None) -> Iterator[AgentTask]:
        for task in self.tasks:
            if self.seconds_per_task:
                time.sleep(self.seconds_per_task)
            self.yielded += 1
            yield task


@dataclass
class _Runner:
    stages: list[_Stage]
    project_hash: str = PROJECT

    def get_agent_stages(self) -> list[_Stage]:
        return self.stages


@dataclass
class _Queue:
    bodies: list[str] = field(default_factory=list)
    fail_next: int = 0
    listed_when_published: list[int] = field(default_factory=list)
    stage: _Stage | None = None

    def publish(self, messages: Sequence[OutboundMessage]) -> Collection[int]:
        if self.stage is not None:
            self.listed_when_published.append(self.stage.yielded)
        failed = set(range(min(self.fail_next, len(messages))))
        self.fail_next -= len(failed)
        self.bodies.extend(m.body for i, m in enumerate(messages) if i not in failed)
        return failed

    def task_uuids(self) -> list[UUID]:
        return [task.uuid for body in self.bodies for task in decode_message(body).tasks]


def _source(*stages: _Stage) -> TaskSource:
    return cast(TaskSource, _Runner(list(stages)))


def _ledger() -> TaskLedger:
    return TaskLedger(InMemoryStore(), settings=LedgerSettings())


def test_pages_are_published_while_the_listing_streams() -> None:
    stage = _Stage(uuid4(), [_task() for _ in range(250)])
    queue = _Queue(stage=stage)
    report = drain_backlog(_source(stage), publish=queue.publish, ledger=_ledger(), page_size=100)
    assert report.listed == report.published == report.messages == 250
    assert queue.listed_when_published == [100, 200, 250]  # one page in memory at a time


def test_repeated_runs_publish_each_task_once() -> None:
    stage = _Stage(uuid4(), [_task() for _ in range(120)])
    queue, ledger = _Queue(), _ledger()
    first = drain_backlog(_source(stage), publish=queue.publish, ledger=ledger)
    second = drain_backlog(_source(stage), publish=queue.publish, ledger=ledger)
    assert (first.published, second.published, second.in_flight) == (120, 0, 120)
    assert sorted(queue.task_uuids()) == sorted(t.uuid for t in stage.tasks)


def test_a_failed_publish_is_undone_so_the_next_run_sends_it() -> None:
    stage = _Stage(uuid4(), [_task() for _ in range(10)])
    queue, ledger = _Queue(fail_next=3), _ledger()
    first = drain_backlog(_source(stage), publish=queue.publish, ledger=ledger)
    assert (first.published, first.publish_failed) == (7, 3)
    second = drain_backlog(_source(stage), publish=queue.publish, ledger=ledger)
    assert (second.published, second.in_flight) == (3, 7)
    assert sorted(queue.task_uuids()) == sorted(t.uuid for t in stage.tasks)


def test_a_run_stops_before_its_deadline_and_the_next_continues() -> None:
    stage = _Stage(uuid4(), [_task() for _ in range(600)], seconds_per_task=0.002)  # ~0.2 s per page of 100
    queue, ledger = _Queue(), _ledger()
    started = time.monotonic()
    report = drain_backlog(
        _source(stage),
        publish=queue.publish,
        ledger=ledger,
        deadline=started + 1.5,
    )
    assert report.stopped_at_deadline
    assert time.monotonic() < started + 1.5
    assert 0 < report.published < 600
    rest = drain_backlog(_source(stage), publish=queue.publish, ledger=ledger)
    assert rest.published == 600 - report.published
    assert not rest.stopped_at_deadline
    assert len(queue.task_uuids()) == len(set(queue.task_uuids())) == 600


def test_one_run_at_a_time_per_stage() -> None:
    stage = _Stage(uuid4(), [_task() for _ in range(5)])
    ledger = _ledger()
    lock = ledger.acquire_lock(PROJECT, stage.uuid, holder="the-webhook-run", lease_s=60)
    assert lock is not None
    queue = _Queue()
    blocked = drain_backlog(_source(stage), publish=queue.publish, ledger=ledger)
    assert (blocked.stages_locked, blocked.listed, queue.bodies) == (1, 0, [])
    ledger.release_lock(lock)
    assert drain_backlog(_source(stage), publish=queue.publish, ledger=ledger).published == 5


def test_without_a_ledger_everything_listed_is_published() -> None:
    stage = _Stage(uuid4(), [_task() for _ in range(3)])
    queue = _Queue()
    for _ in range(2):
        drain_backlog(_source(stage), publish=queue.publish, ledger=None)
    assert len(queue.bodies) == 6  # today's behaviour: duplicates in the queue
