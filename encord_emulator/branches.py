"""Label branches other than `main`: per data unit, a label row of its own that shares the unit's task.

On Encord a data unit has one task but may have label rows on several branches; `list_label_rows_v2(branch_name=)`
lists every data unit with that branch's label row (label hash null until one is created), and
`initialise_labels` creates it there. Here a branch's row is a copy of the main row whose label fields are its own
and whose workflow fields (stage, status, priority) are re-read from the main row whenever it is used, so moving a
task shows on every branch. Callers hold the state lock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from encord_emulator.model import DataRow, Project
from encord_emulator.seed import derived_uuid

MAIN = "main"
# Listing filters that look at a label row rather than at the data unit or its task.
LABEL_FILTERS = ("label_hashes", "label_statuses", "edited_before", "edited_after")


def _synced(row: DataRow, main: DataRow) -> DataRow:
    row.stage_uuid, row.task_status, row.priority, row.updated_at = (
        main.stage_uuid,
        main.task_status,
        main.priority,
        main.updated_at,
    )
    return row


def branch_row(project: Project, main: DataRow, branch: str) -> DataRow:
    """The data unit's row on `branch` (the main row itself for `main`); unsaved views are not kept."""
    if branch == MAIN:
        return main
    kept = project.branches.get(branch, {}).get(main.data_hash)
    if kept is not None:
        return _synced(kept, main)
    return dataclasses.replace(
        main, branch_name=branch, label_hash=None, label_blob=None, label_created_at=None, label_edited_at=None
    )


def rows_on(project: Project, rows: Iterable[DataRow], branch: str) -> list[DataRow]:
    return [branch_row(project, row, branch) for row in rows]


def create_label(project: Project, main: DataRow, branch: str, *, now: datetime) -> DataRow:
    """The data unit's row on `branch` with a label hash, created (and kept) when it has none yet."""
    row = branch_row(project, main, branch)
    if row.label_hash is None:
        # Main keeps the hash it always had; other branches get one of their own.
        extra = [branch] if branch != MAIN else []
        row.label_hash = derived_uuid(project.project_hash, "label", main.data_hash, *extra)
        row.label_created_at = row.label_edited_at = now
        if branch == MAIN:
            project.labels[row.label_hash] = main.data_hash
        else:
            project.branches.setdefault(branch, {})[main.data_hash] = row
            project.branch_labels[row.label_hash] = row
    return row


def labelled_row(project: Project, label_hash: UUID) -> DataRow | None:
    """The row (on whichever branch) holding `label_hash`, None when no row does."""
    data_hash = project.labels.get(label_hash)
    if data_hash is not None:
        return project.rows[data_hash]
    row = project.branch_labels.get(label_hash)
    if row is None:
        return None
    return _synced(row, project.rows[row.data_hash])
