"""The emulator's in-memory records (mutable; only touched under `EmulatorState.lock`)."""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from encord_emulator.media import MediaFile

STAGE_TYPES = {"agent": "AGENT", "annotation": "ANNOTATION", "review": "REVIEW", "done": "DONE"}


@dataclass(slots=True)
class Pathway:
    uuid: UUID
    name: str
    destination: UUID


@dataclass(slots=True)
class Stage:
    uuid: UUID
    title: str
    stage_type: str  # wire value: AGENT, ANNOTATION, REVIEW, DONE
    pathways: list[Pathway] = field(default_factory=list)

    def pathway(self, *, name: str | None, uuid: str | None) -> Pathway | None:
        for pathway in self.pathways:
            if uuid is not None and str(pathway.uuid) == uuid.lower():
                return pathway
            if uuid is None and name is not None and pathway.name == name:
                return pathway
        return None


@dataclass(slots=True)
class StorageItem:
    uuid: UUID
    parent: UUID
    item_type: str  # wire value: image, video, imageGroup, imageSequence
    name: str
    created_at: datetime
    last_edited_at: datetime
    media: MediaFile | None
    client_metadata: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    children: list[UUID] = field(default_factory=list)


@dataclass(slots=True)
class DataRow:
    """One data unit of a project: its task, its label row and its priority."""

    data_hash: UUID
    title: str
    data_type: str  # label-blob value: image, video, img_group, pdf, audio, plain_text, group
    item_uuid: UUID
    task_uuid: UUID
    stage_uuid: UUID
    task_status: str
    created_at: datetime
    updated_at: datetime
    priority: float
    seq: int = 0  # creation order: the key task listings page by
    label_hash: UUID | None = None
    label_blob: dict[str, Any] | None = None
    label_created_at: datetime | None = None
    label_edited_at: datetime | None = None
    branch_name: str = "main"  # other branches: copies kept by `encord_emulator.branches`
    # Hot-path caches (listing 1,000 tasks is mostly string formatting otherwise).
    data_hash_str: str = field(init=False)
    task_dto: dict[str, Any] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.data_hash_str = str(self.data_hash)

    def touch(self, moment: datetime) -> None:
        """Record a change to the task (stage, status) and drop its cached wire form."""
        self.updated_at = moment
        self.task_dto = None


@dataclass(slots=True)
class Project:
    project_hash: UUID
    title: str
    description: str
    created_at: datetime
    ontology_hash: UUID
    ontology_title: str
    editor: dict[str, Any]
    workflow_uuid: UUID
    stages: list[Stage]
    dataset_hash: UUID
    dataset_title: str
    rows: dict[UUID, DataRow] = field(default_factory=dict)
    tasks: dict[UUID, UUID] = field(default_factory=dict)  # task uuid -> data hash
    labels: dict[UUID, UUID] = field(default_factory=dict)  # label hash -> data hash
    # Label branches other than main (encord_emulator/branches.py): branch -> data hash -> row, label hash -> row.
    branches: dict[str, dict[UUID, DataRow]] = field(default_factory=dict)
    branch_labels: dict[UUID, DataRow] = field(default_factory=dict)
    # Stage index: each stage's tasks as a sorted list of `seq`, so a listing page costs O(page) (a bisect to
    # the page token, then the next rows), not a scan of every task. Kept by `add_row` and `move_row` only.
    _stage_seqs: dict[UUID, list[int]] = field(default_factory=dict)
    _by_seq: dict[int, DataRow] = field(default_factory=dict)

    def add_row(self, row: DataRow) -> None:
        """A new data unit with its task; its `seq` must be new in the project."""
        self.rows[row.data_hash] = row
        self.tasks[row.task_uuid] = row.data_hash
        self._by_seq[row.seq] = row
        insort(self._stage_seqs.setdefault(row.stage_uuid, []), row.seq)

    def move_row(self, row: DataRow, destination: UUID) -> None:
        """Put a task in another stage (the only way a row's `stage_uuid` changes, so the index stays true)."""
        seqs = self._stage_seqs[row.stage_uuid]
        del seqs[bisect_right(seqs, row.seq) - 1]
        row.stage_uuid = destination
        insort(self._stage_seqs.setdefault(destination, []), row.seq)

    def rows_in_stage(self, stage_uuid: UUID, *, after: int = -1) -> Iterator[DataRow]:
        """The stage's tasks in creation order, starting after `seq` `after`; lazy, so a page reads a page."""
        seqs = self._stage_seqs.get(stage_uuid, [])
        for index in range(bisect_right(seqs, after), len(seqs)):
            yield self._by_seq[seqs[index]]

    def stage(self, stage_uuid: UUID) -> Stage | None:
        for stage in self.stages:
            if stage.uuid == stage_uuid:
                return stage
        return None

    def stage_by_title(self, title: str) -> Stage | None:
        for stage in self.stages:
            if stage.title == title:
                return stage
        return None
