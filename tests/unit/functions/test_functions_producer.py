from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from encord.workflow.stages.agent import AgentTask, AgentTaskStatus

from functions.publishers.sqs import sanitise_id
from runner_core.messages import decode_message
from runner_core.producer import MessageTooLargeError, build_messages, dedup_id_of, messages_for_tasks

PROJECT = "00000000-0000-4000-8000-000000000001"


def _task(title: str = "image.jpg", status: str = "NEW") -> AgentTask:
    return AgentTask(
        uuid=uuid4(),
        created_at=datetime(2026, 11, 24, 5, tzinfo=UTC),
        updated_at=datetime(2026, 11, 24, 5, 30, tzinfo=UTC),
        status=status,
        data_hash=uuid4(),
        data_title=title,
        label_branch_name="main",
        assignee=None,
        last_actioned_by=None,
    )


@dataclass
class _Stage:
    """Stands in for an AgentStage: the producer only reads `uuid` and calls `get_tasks(status=...)`."""

    uuid: UUID
    tasks: list[AgentTask]
    calls: list[Any] = field(default_factory=list)

    def get_tasks(self, *, status: list[AgentTaskStatus] | None = None) -> Iterable[AgentTask]:
        self.calls.append(status)
        return [t for t in self.tasks if status is None or t.status in status]


@dataclass
class _Runner:
    stages: list[_Stage]
    project_hash: str = PROJECT

    def get_agent_stages(self) -> list[_Stage]:
        return self.stages


def test_one_task_per_message_with_group_and_dedup_ids() -> None:
    stage = _Stage(uuid4(), [_task(), _task()])
    messages = build_messages(_Runner([stage]))  # type: ignore[arg-type]
    assert [m.task_count for m in messages] == [1, 1]
    for message, task in zip(messages, stage.tasks, strict=True):
        decoded = decode_message(message.body)
        assert decoded.project_hash == PROJECT
        assert decoded.stage_uuid == stage.uuid
        assert [t.uuid for t in decoded.tasks] == [task.uuid]
        assert message.data_hash == task.data_hash
        assert message.ordering_key == str(task.data_hash)
        assert message.dedup_id == f"{task.uuid}:2026-11-24T05:30:00+00:00"
        assert message.attributes()["stage_uuid"] == str(stage.uuid)


def test_status_filter_and_stage_filter_are_applied() -> None:
    first = _Stage(uuid4(), [_task(status="NEW"), _task(status="RELEASED"), _task(status="NEW")])
    second = _Stage(uuid4(), [_task()])
    messages = build_messages(
        _Runner([first, second]),  # type: ignore[arg-type]
        statuses=[AgentTaskStatus.NEW],
        stage_uuids={first.uuid},
    )
    assert len(messages) == 2
    assert first.calls == [[AgentTaskStatus.NEW]]
    assert second.calls == []


def test_batches_respect_count_and_size_limits() -> None:
    tasks = [_task(title="x" * 200) for _ in range(25)]
    by_count = list(messages_for_tasks(project_hash=PROJECT, stage_uuid=uuid4(), tasks=tasks, tasks_per_message=10))
    assert [m.task_count for m in by_count] == [10, 10, 5]
    assert all(m.data_hash is None and m.dedup_id is None for m in by_count)
    one_size = len(next(iter(messages_for_tasks(project_hash=PROJECT, stage_uuid=uuid4(), tasks=tasks[:3]))).body)
    limit = one_size * 3  # room for a little under 4 tasks' worth
    by_size = list(
        messages_for_tasks(project_hash=PROJECT, stage_uuid=uuid4(), tasks=tasks, tasks_per_message=50, max_bytes=limit)
    )
    assert all(len(m.body.encode()) <= limit for m in by_size)
    assert sum(m.task_count for m in by_size) == 25
    assert max(m.task_count for m in by_size) > 1
    seen = [t.uuid for m in by_size for t in decode_message(m.body).tasks]
    assert seen == [t.uuid for t in tasks]  # nothing lost, order kept


def test_a_task_larger_than_the_limit_is_refused() -> None:
    with pytest.raises(MessageTooLargeError, match="larger than the 300-byte"):
        list(messages_for_tasks(project_hash=PROJECT, stage_uuid=uuid4(), tasks=[_task("y" * 400)], max_bytes=300))


def test_body_is_compact_json_envelope() -> None:
    message = next(messages_for_tasks(project_hash=PROJECT, stage_uuid=uuid4(), tasks=[_task()]))
    assert json.loads(message.body)["version"] == 1


def test_sqs_ids_are_sanitised_and_bounded() -> None:
    task = _task()
    assert sanitise_id(dedup_id_of(task)) == dedup_id_of(task)  # uuid + ISO time is already valid
    assert sanitise_id("a b\tc\u00e9") == "a_b_c_"
    long_a, long_b = "a" * 200 + "1", "a" * 200 + "2"
    assert len(sanitise_id(long_a)) == 128
    assert sanitise_id(long_a) != sanitise_id(long_b)
