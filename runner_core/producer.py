"""The producer: list the tasks waiting in the runner's agent stages and build queue messages for them.

No publishing and no cloud SDK here: `functions.publishers` sends what this builds. A message is the envelope v1
(`runner_core.messages`), one task per message for SQS, up to N for Pub/Sub, never above the transport's size limit.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from runner_core.errors import PermanentError
from runner_core.messages import encode_envelope, task_payload
from runner_core.protocols import TaskSource

if TYPE_CHECKING:
    from encord.workflow.stages.agent import AgentStage, AgentTask, AgentTaskStatus


class MessageTooLargeError(PermanentError):
    """One task alone does not fit in a message of the transport's size."""


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One queue message: the envelope body and what the publishers need to route and de-duplicate it."""

    body: str
    project_hash: str
    stage_uuid: UUID
    task_count: int
    data_hash: UUID | None = None  # set when the message holds one task: the FIFO group / ordering key
    dedup_id: str | None = None  # task uuid + updated_at when the message holds one task

    @property
    def ordering_key(self) -> str | None:
        return None if self.data_hash is None else str(self.data_hash)

    def attributes(self) -> dict[str, str]:
        """String attributes every transport can carry (for filtering and for people reading a queue)."""
        return {
            "project_hash": self.project_hash,
            "stage_uuid": str(self.stage_uuid),
            "task_count": str(self.task_count),
        }


@dataclass(frozen=True, slots=True)
class StageTasks:
    stage: AgentStage
    tasks: list[AgentTask]


def dedup_id_of(task: AgentTask) -> str:
    """Task uuid + updated_at: the same task waiting again after being sent back is a new message."""
    return f"{task.uuid}:{task.updated_at.isoformat()}"


def list_waiting_tasks(
    runner: TaskSource,
    *,
    statuses: Sequence[AgentTaskStatus] | None = None,
    stage_uuids: Collection[UUID] | None = None,
) -> list[StageTasks]:
    """The tasks of every agent stage the runner implements (optionally only `stage_uuids`), by status if given."""
    found: list[StageTasks] = []
    for stage in runner.get_agent_stages():
        if stage_uuids is not None and stage.uuid not in stage_uuids:
            continue
        tasks = list(stage.get_tasks(status=list(statuses) if statuses else None))
        found.append(StageTasks(stage=stage, tasks=tasks))
    return found


def _compact(payload: dict[str, Any]) -> int:
    return len(json.dumps(payload, separators=(",", ":")).encode())


def messages_for_tasks(
    *,
    project_hash: str,
    stage_uuid: UUID,
    tasks: Sequence[AgentTask],
    tasks_per_message: int = 1,
    max_bytes: int | None = None,
) -> Iterator[OutboundMessage]:
    """Pack `tasks` into envelopes of at most `tasks_per_message` tasks and `max_bytes` bytes each.

    `max_bytes` is the transport's body limit, a fact of its publisher (`functions.publishers`); None: no limit.
    """
    if tasks_per_message < 1:
        raise ValueError(f"tasks_per_message must be at least 1, got {tasks_per_message}")
    chunk: list[AgentTask] = []
    chunk_dumps: list[dict[str, Any]] = []

    def flush() -> OutboundMessage:
        body = encode_envelope(project_hash=project_hash, stage_uuid=stage_uuid, tasks=chunk_dumps)
        single = chunk[0] if len(chunk) == 1 else None
        message = OutboundMessage(
            body=body,
            project_hash=project_hash,
            stage_uuid=stage_uuid,
            task_count=len(chunk),
            data_hash=None if single is None else single.data_hash,
            dedup_id=None if single is None else dedup_id_of(single),
        )
        chunk.clear()
        chunk_dumps.clear()
        return message

    # Sizes add up exactly: the envelope's fixed part, each task's compact JSON, one comma between tasks.
    empty_size = chunk_size = 0
    for task in tasks:
        dump = task_payload(task)
        task_size = _compact(dump)
        if not empty_size:
            one = encode_envelope(project_hash=project_hash, stage_uuid=stage_uuid, tasks=[dump])
            empty_size = len(one.encode()) - task_size
            chunk_size = empty_size
        if max_bytes is not None and empty_size + task_size > max_bytes:
            raise MessageTooLargeError(f"task {task.uuid} alone is larger than the {max_bytes}-byte message limit")
        too_big = max_bytes is not None and chunk_size + 1 + task_size > max_bytes
        if chunk and (len(chunk) >= tasks_per_message or too_big):
            yield flush()
            chunk_size = empty_size
        chunk_size += task_size + (1 if chunk else 0)
        chunk.append(task)
        chunk_dumps.append(dump)
    if chunk:
        yield flush()


def build_messages(
    runner: TaskSource,
    *,
    statuses: Sequence[AgentTaskStatus] | None = None,
    stage_uuids: Collection[UUID] | None = None,
    tasks_per_message: int = 1,
    max_bytes: int | None = None,
) -> list[OutboundMessage]:
    """List the runner's waiting tasks and build their messages (one stage per message, never mixed)."""
    project_hash = str(UUID(str(runner.project_hash)))
    messages: list[OutboundMessage] = []
    for found in list_waiting_tasks(runner, statuses=statuses, stage_uuids=stage_uuids):
        messages.extend(
            messages_for_tasks(
                project_hash=project_hash,
                stage_uuid=found.stage.uuid,
                tasks=found.tasks,
                tasks_per_message=tasks_per_message,
                max_bytes=max_bytes,
            )
        )
    return messages
