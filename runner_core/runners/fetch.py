"""Batch fetching: everything a batch's agents need, in a number of Encord requests that does not grow with N.

re-fetch the tasks (1 per 100), label-row metadata (1), label initialisation (1 bundle), storage items (1 bulk); each
only when some agent parameter (or a priority) needs it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from runner_core.errors import PermanentError, RetryableError
from runner_core.runners.bundles import run_bundled

if TYPE_CHECKING:
    from encord.objects.ontology_labels_impl import LabelRowV2
    from encord.project import Project
    from encord.user_client import EncordUserClient
    from encord.workflow.stages.agent import AgentStage

    from runner_core.models import LabelRowInitialiseLabelsArgs, LabelRowMetadataIncludeArgs
    from runner_core.runners.state import TaskState

logger = logging.getLogger("runner_core")

NOT_AT_STAGE = "task is no longer at this stage"
# The task listing is a GET whose query string names every data hash (about 50 bytes each): chunk it so a big
# batch (a SequentialRunner retry of 300 tasks) stays well under the URL limits of proxies and load balancers.
REFETCH_CHUNK = 100


class MissingLabelRowError(RetryableError):
    """Encord listed no label row for the task's data unit (yet)."""


class MissingStorageItemError(PermanentError):
    """The task's storage item is not returned for this key: missing, or not shared with it."""


def refetch_tasks(stage: AgentStage, states: Sequence[TaskState]) -> None:
    """Find the batch's tasks at the stage again (1 request per REFETCH_CHUNK data units), matched by task uuid;
    the others are skipped."""
    pending = [s for s in states if s.active and s.task is None]
    if not pending:
        return
    data_hashes = list(dict.fromkeys(s.item.data_hash for s in pending))
    try:
        live = {
            task.uuid: task
            for start in range(0, len(data_hashes), REFETCH_CHUNK)
            for task in stage.get_tasks(data_hash=data_hashes[start : start + REFETCH_CHUNK])
        }
    except Exception as exc:
        for state in pending:
            state.fail(exc)
        return
    for state in pending:
        task = live.get(state.item.task_uuid)
        if task is None:
            state.skip(NOT_AT_STAGE)
        else:
            state.task = task


def fetch_label_rows(project: Project, states: Sequence[TaskState], include: LabelRowMetadataIncludeArgs) -> None:
    """List the label rows of the batch's data units (1 request) and give each task its row."""
    pending = [s for s in states if s.active and s.label_row is None]
    if not pending:
        return
    try:
        rows = project.list_label_rows_v2(
            data_hashes=list(dict.fromkeys(s.item.data_hash for s in pending)), **include.model_dump()
        )
    except Exception as exc:
        for state in pending:
            state.fail(exc)
        return
    by_data_hash: dict[str, list[LabelRowV2]] = {}
    for listed in rows:
        by_data_hash.setdefault(str(listed.data_hash), []).append(listed)
    for state in pending:
        candidates = by_data_hash.get(str(state.item.data_hash), [])
        branch = state.item.label_branch_name
        # With several branches listed, the task's own branch wins.
        ranked = [r for r in candidates if r.branch_name == branch] + candidates
        if ranked:
            state.label_row = ranked[0]
        else:
            state.fail(MissingLabelRowError(f"no label row listed for data unit {state.item.data_hash}"))


def initialise_label_rows(states: Sequence[TaskState], init: LabelRowInitialiseLabelsArgs) -> None:
    """Load the labels of every row in one bundle (1 request; replayed per row only if the bundle fails)."""
    pending = [s for s in states if s.active and s.label_row is not None]
    kwargs = init.model_dump()

    def add(state: TaskState, bundle: object) -> None:
        assert state.label_row is not None
        state.label_row.initialise_labels(bundle=bundle, **kwargs)  # type: ignore[arg-type]

    for index, exc in run_bundled(pending, add, what="label initialisation").items():
        pending[index].fail(exc)


def fetch_storage_items(client: EncordUserClient, states: Sequence[TaskState]) -> None:
    """Get the storage items behind the batch's label rows in one bulk request, with signed URLs."""
    pending = [s for s in states if s.active and s.storage_item is None]
    if not pending:
        return
    uuids = []
    for state in pending:
        assert state.label_row is not None  # fetch_label_rows ran first
        uuids.append(state.label_row.backing_item_uuid)
    wanted = list(dict.fromkeys(u for u in uuids if u is not None))
    try:
        items = {item.uuid: item for item in client.get_storage_items(wanted, sign_url=True)} if wanted else {}
    except Exception as exc:
        for state in pending:
            state.fail(exc)
        return
    for state, uuid in zip(pending, uuids, strict=True):
        item = items.get(uuid) if uuid is not None else None
        if item is None:
            state.fail(
                MissingStorageItemError(
                    f"storage item {uuid} of data unit {state.item.data_hash} was not returned; check that the "
                    f"key can read the dataset's storage folder"
                )
            )
        else:
            state.storage_item = item
