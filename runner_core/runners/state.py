"""The per-task record the pipeline steps fill in, from "named by a message" to an outcome."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from runner_core.outcomes import Outcome

if TYPE_CHECKING:
    from encord.objects.ontology_labels_impl import LabelRowV2
    from encord.storage import StorageItem
    from encord.workflow.stages.agent import AgentPathway, AgentTask

    from runner_core.ledger import Claim
    from runner_core.messages import TaskRef


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One task to process: named by a message (`ref`) or already listed live from its stage (`task`)."""

    ref: TaskRef | None = None
    task: AgentTask | None = None
    attempt: int = 1
    max_attempts: int | None = None
    delivery: str | None = None  # the transport's message id: who holds the task's ledger claim

    def __post_init__(self) -> None:
        if self.ref is None and self.task is None:
            raise ValueError("a work item needs a task reference or a live task")

    @property
    def task_uuid(self) -> UUID:
        return self.task.uuid if self.task is not None else self.ref.uuid  # type: ignore[union-attr]

    @property
    def data_hash(self) -> UUID:
        return self.task.data_hash if self.task is not None else self.ref.data_hash  # type: ignore[union-attr]

    @property
    def label_branch_name(self) -> str | None:
        if self.task is not None:
            return self.task.label_branch_name
        return self.ref.label_branch_name if self.ref is not None else None

    @property
    def is_last_attempt(self) -> bool:
        return self.max_attempts is not None and self.attempt >= self.max_attempts


@dataclass(slots=True)
class AgentReturn:
    """An agent's return value, normalised."""

    pathway: Any = None  # name, uuid or None, as returned (validated later)
    label_row: LabelRowV2 | None = None
    priority: float | None = None


@dataclass(slots=True)
class TaskState:
    item: WorkItem
    task: AgentTask | None = None
    label_row: LabelRowV2 | None = None
    storage_item: StorageItem | None = None
    result: AgentReturn | None = None
    pathway: AgentPathway | None = None
    error: BaseException | None = None
    outcome: Outcome | None = None  # set when the task ends early (skipped) or is final
    note: str | None = None  # why a task was skipped
    routed_to_failure_pathway: bool = False
    claim: Claim | None = None  # the task's ledger claim, when the runner has a ledger and this delivery runs it
    started: float = field(default_factory=time.monotonic)
    # Two fetch steps run side by side and may both end the task (skip vs fail): the first one wins.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def active(self) -> bool:
        """Still going through the pipeline (not failed, not skipped)."""
        return self.error is None and self.outcome is None

    @property
    def failure_is_retryable(self) -> bool:
        """Failed, not routed along the failure pathway, and a later delivery may pass (classify.is_retryable)."""
        from runner_core.runners.classify import is_retryable

        return self.error is not None and not self.routed_to_failure_pathway and is_retryable(self.error)

    def fail(self, error: BaseException) -> None:
        with self._lock:
            if self.active:
                self.error = error

    def skip(self, note: str) -> None:
        with self._lock:
            if self.active:
                self.outcome = Outcome.SKIPPED
                self.note = note
