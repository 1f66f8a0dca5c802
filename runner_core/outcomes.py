"""Typed per-task and per-message outcomes: what the cloud entrypoints consume (never JSON they produced)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID


class Outcome(StrEnum):
    MOVED = "moved"  # labels saved (if any), task proceeded along the returned pathway
    HELD = "held"  # the agent returned no pathway: labels saved, the task stays
    SKIPPED = "skipped"  # no longer at the stage, or the ledger's claim is another delivery's: nothing done
    FAILED = "failed"  # see TaskOutcome.retryable


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    task_uuid: UUID | None
    data_hash: UUID | None
    project_hash: str | None
    stage_uuid: UUID | None
    outcome: Outcome
    pathway_uuid: UUID | None = None
    pathway_name: str | None = None
    retryable: bool = False  # only meaningful when FAILED
    error: str | None = None  # short, sanitised reason (never a traceback, never a secret)
    routed_to_failure_pathway: bool = False
    duration_s: float = 0.0
    # Encord SDK requests made by the batch this task ran in (one count shared by the batch's tasks, because the
    # requests are bundled across them); media downloads are excluded. None when the task never reached a batch.
    encord_requests: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is not Outcome.FAILED


@dataclass(frozen=True, slots=True)
class QueueMessage:
    """What an entrypoint hands the runner: one transport message."""

    message_id: str
    body: str | bytes
    attempt: int = 1
    max_attempts: int | None = None
    # The transport's largest message (its publisher's fact, e.g. functions.publishers.sqs.MAX_MESSAGE_BYTES): a
    # larger body fails permanently before parsing. None: RUNNER_MAX_MESSAGE_BYTES (the JSON wrapper's bound).
    max_bytes: int | None = None

    @property
    def is_last_attempt(self) -> bool:
        return self.max_attempts is not None and self.attempt >= self.max_attempts


@dataclass(frozen=True, slots=True)
class MessageResult:
    message_id: str
    tasks: tuple[TaskOutcome, ...]  # empty when the message could not be decoded
    error: str | None = None  # message-level (decode) error: permanent
    # What the transport does with the message is decided from these fields by runner_core.disposition.decide.

    @property
    def ok(self) -> bool:
        """Every task moved, held or skipped, and the message itself was fine."""
        return self.error is None and all(task.ok for task in self.tasks)


__all__ = ["MessageResult", "Outcome", "QueueMessage", "TaskOutcome"]
