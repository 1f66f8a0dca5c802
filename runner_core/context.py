"""The scopes a runner hands to the dependency solver: one per batch, one per task."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from encord.objects.ontology_labels_impl import LabelRowV2
    from encord.project import Project
    from encord.storage import StorageItem
    from encord.user_client import EncordUserClient
    from encord.workflow.stages.agent import AgentStage, AgentTask

    from runner_core.media.settings import MediaSettings

T = TypeVar("T")


@dataclass(slots=True)
class BatchScope:
    """What every task of one batch shares. Lives for one pass of the pipeline over one (project, stage)."""

    project: Project
    stage: AgentStage
    client: EncordUserClient
    media: MediaSettings
    tasks: Sequence[AgentTask]
    _memo: dict[Hashable, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def memo(self, key: Hashable, factory: Callable[[], T]) -> T:
        """Compute `factory()` once per batch for `key` (e.g. one twin-project lookup for all tasks).

        Tasks resolve concurrently, so the first caller computes while the others wait.
        """
        with self._lock:
            if key not in self._memo:
                self._memo[key] = factory()
            return self._memo[key]  # type: ignore[no-any-return]


@dataclass(slots=True)
class TaskScope:
    """What one task's dependencies may use. Injected into any parameter annotated `TaskScope`."""

    batch: BatchScope
    task: AgentTask
    label_row: LabelRowV2 | None = None
    storage_item: StorageItem | None = None
