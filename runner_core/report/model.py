"""What a run report shows: one record per task, grouped in sections (a cloud path, or a SequentialRunner run)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

ShapeKind = Literal["box", "polygon", "polyline", "point"]
FAILED = "failed"
NOT_RUN = "not run"  # still waiting at the agent stage with no outcome logged (e.g. the run timed out)


@dataclass(frozen=True, slots=True)
class Shape:
    """An object label drawn on the thumbnail; points are normalised (0..1) image coordinates."""

    name: str
    color: str
    kind: ShapeKind
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class TaskLabels:
    """The labels saved on one data unit, the picture to draw them on, and where its task is now."""

    classifications: tuple[str, ...] = ()  # "brightness: bright"
    shapes: tuple[Shape, ...] = ()
    frame: int = 0  # the frame shown: the first one holding an object, else the first frame
    thumbnail: str | None = None  # a data: URI (JPEG)
    note: str | None = None  # why there is no thumbnail
    data_type: str | None = None
    stage: str | None = None  # the workflow stage the task is at now
    priority: float | None = None


@dataclass(slots=True)
class TaskRecord:
    task_uuid: str
    data_hash: str
    title: str
    data_type: str
    outcome: str  # moved, held, skipped, failed, or NOT_RUN
    stage_before: str | None = None
    stage_after: str | None = None
    pathway: str | None = None
    priority: float | None = None
    attempts: int = 0
    duration_s: float | None = None
    error: str | None = None
    labels: TaskLabels = field(default_factory=TaskLabels)

    @property
    def failed(self) -> bool:
        return self.outcome in (FAILED, NOT_RUN)


@dataclass(slots=True)
class Section:
    """One run over a project: a cloud path of the local stack, or one SequentialRunner run."""

    name: str
    title: str
    records: list[TaskRecord] = field(default_factory=list)
    seconds: float | None = None
    encord_requests: int | None = None
    dead_lettered: int | None = None
    skipped_reason: str | None = None

    @property
    def outcomes(self) -> Counter[str]:
        return Counter(record.outcome for record in self.records)

    @property
    def pathways(self) -> Counter[str]:
        return Counter(record.pathway for record in self.records if record.outcome == "moved" and record.pathway)

    @property
    def failed(self) -> int:
        return sum(1 for record in self.records if record.failed)

    @property
    def ok(self) -> bool:
        return self.skipped_reason is None and not self.failed and not self.dead_lettered

    def ordered(self) -> list[TaskRecord]:
        """Failures first (the reason to open a report), then by data title."""
        return sorted(self.records, key=lambda record: (not record.failed, record.title))
