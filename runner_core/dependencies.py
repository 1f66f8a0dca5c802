"""The dependencies agents ask for in their signatures: `frame: Annotated[np.ndarray, Depends(dep_single_frame)]`.

Same names and behaviour as encord-agents' task dependencies, with these differences:
- `dep_client` returns the runner's client (the reference built a new one from the environment).
- Frames are decoded with PyAV, not OpenCV (JPEG and WebP stills with Pillow, whose libjpeg-turbo/libwebp give
  OpenCV's pixels exactly). A video frame is read by seeking over HTTP Range requests, without
  downloading the file; `dep_frame(k)` reads frame `k` (`dep_single_frame` is frame 0).
- Images and image-group members are fetched into memory and decoded there (no disk); other downloads stream
  into a per-task directory under `RUNNER_TEMP_DIR`, with timeouts, retries, a size cap
  (`RUNNER_DOWNLOAD_MAX_BYTES`) and one re-signing of an expired URL; they are removed when the task's scope
  closes, also when the agent raises.
- `dep_twin_label_row` resolves on first use, once per batch (one filtered listing of the twin project), never at
  import.
- `dep_video_iterator` and `dep_video_sampler` accept videos and video-backed image sequences.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import numpy as np
from encord.exceptions import AuthenticationError, AuthorisationError
from encord.objects.ontology_labels_impl import LabelRowV2
from encord.orm.storage import StorageItemType
from encord.storage import StorageItem
from encord.user_client import EncordUserClient
from encord.workflow.common import WorkflowTask
from numpy.typing import NDArray

from runner_core.context import BatchScope, TaskScope
from runner_core.media.errors import NoSingleAssetError, UnsupportedItemTypeError
from runner_core.media.sources import describe, read_item_frame, single_file
from runner_core.media.video import Frame, VideoSampler, iter_video

logger = logging.getLogger(__name__)

VIDEO_TYPES = frozenset({StorageItemType.VIDEO, StorageItemType.IMAGE_SEQUENCE})


def dep_client(client: EncordUserClient) -> EncordUserClient:
    """The runner's authenticated `EncordUserClient` (a parameter annotated `EncordUserClient` gets it too)."""
    return client


def dep_storage_item(storage_item: StorageItem) -> StorageItem:
    """The task's storage item, bulk-fetched with the batch (a `StorageItem` parameter gets it directly too)."""
    return storage_item


def dep_single_frame(storage_item: StorageItem, scope: TaskScope) -> NDArray[np.uint8]:
    """Frame 0 of the task's image, video, image group or image sequence: RGB `uint8`, shape `(h, w, 3)`.

    Any temporary download is deleted before this returns. Use `dep_frame(k)` for another frame.
    """
    return read_item_frame(storage_item, 0, client=scope.batch.client, settings=scope.batch.media)


def dep_frame(index: int) -> Callable[[StorageItem, TaskScope], NDArray[np.uint8]]:
    """A dependency for frame `index` (0-based) of the task's media, e.g. `Depends(dep_frame(30))`.

    Raises `FrameNotFoundError` (an `IndexError`) when the item has no such frame.
    """
    if index < 0:
        raise ValueError(f"dep_frame: the frame index must be >= 0, got {index}")

    def frame_at(storage_item: StorageItem, scope: TaskScope) -> NDArray[np.uint8]:
        return read_item_frame(storage_item, index, client=scope.batch.client, settings=scope.batch.media)

    frame_at.__qualname__ = frame_at.__name__ = f"dep_frame({index})"
    return frame_at


def dep_video_iterator(storage_item: StorageItem, scope: TaskScope) -> Generator[Iterator[Frame], None, None]:
    """The video's frames in order, `Frame(frame, content)`, decoded one at a time (constant memory).

    The video is streamed to the task's temp dir first and removed when the task's scope closes.
    Raises `NotImplementedError` (`UnsupportedItemTypeError`) for items that are not videos or video-backed image
    sequences.
    """
    with _downloaded_video(storage_item, scope, "dep_video_iterator") as path:
        frames = iter_video(path, settings=scope.batch.media, name=describe(storage_item))
        try:
            yield frames
        finally:
            frames.close()  # release the decoder before the file goes


def dep_video_sampler(
    storage_item: StorageItem, scope: TaskScope
) -> Generator[Callable[[float | Sequence[int]], Iterator[Frame]], None, None]:
    """A sampler over the task's video: `sampler(1/5)` yields every fifth frame, `sampler([0, 30])` those frames.

    A rate must be in (0, 1] and needs the item's frame count (`frame_count`, or `duration * fps`); otherwise the
    call raises `ValueError`. Raises `NotImplementedError` (`UnsupportedItemTypeError`) for items that are not
    videos (or video-backed image sequences).
    """
    with _downloaded_video(storage_item, scope, "dep_video_sampler") as path:
        yield VideoSampler(
            path,
            frame_count=lambda: frame_count(storage_item),
            settings=scope.batch.media,
            name=describe(storage_item),
        )


def dep_asset(storage_item: StorageItem, scope: TaskScope) -> Generator[Path, None, None]:
    """A local path to the task's raw asset, valid for the task and removed when its scope closes.

    Raises `NoSingleAssetError` (a `ValueError` and, as in encord-agents, a `NotImplementedError`) naming the item
    type when the item has no single file (image
    groups, groups, DICOM series, scenes): use `dep_single_frame`/`dep_frame(k)` or
    `storage_item.get_child_items()` for those.
    """
    remote = single_file(storage_item, client=scope.batch.client)
    if remote is None:
        raise NoSingleAssetError(
            f"dep_asset: items of type {storage_item.item_type.value!r} have no single asset to download "
            f"({describe(storage_item)}); use dep_single_frame / dep_frame(k) or storage_item.get_child_items()"
        )
    with remote.downloaded(scope.batch.media) as path:
        yield path


def frame_count(storage_item: StorageItem) -> int:
    """The number of frames the storage item declares: `frame_count`, else `duration * fps`."""
    if storage_item.frame_count is not None:
        return storage_item.frame_count
    if storage_item.duration is not None and storage_item.fps is not None:
        return int(storage_item.duration * storage_item.fps)
    raise ValueError(
        f"the frame count of {describe(storage_item)} is unknown: the item has no frame_count, "
        "and no duration and fps to derive it from"
    )


@contextmanager
def _downloaded_video(storage_item: StorageItem, scope: TaskScope, dependency: str) -> Iterator[Path]:
    """Check the item is a single video file, then stream it into a per-task temp dir for the block's duration."""
    is_video = storage_item.item_type in VIDEO_TYPES
    remote = single_file(storage_item, client=scope.batch.client) if is_video else None
    if remote is None:
        raise UnsupportedItemTypeError(
            f"{dependency} supports video items (and image sequences stored as a video), not {describe(storage_item)}"
        )
    with remote.downloaded(scope.batch.media) as path:
        yield path


# --- twin projects -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Twin:
    """The label row (and optionally the workflow task) of the same data unit in a twin project."""

    label_row: LabelRowV2
    task: WorkflowTask | None


def dep_twin_label_row(
    twin_project_hash: str, init_labels: bool = True, include_task: bool = False
) -> Callable[[LabelRowV2, TaskScope], Twin | None]:
    """A dependency for the task's twin in the project `twin_project_hash` (attached to the same datasets).

    Nothing happens at import or decoration. The first task of a batch that needs the twin lists the twin
    project's label rows for the batch's data units only (one request), initialises their labels in one bundle
    when `init_labels`, and finds their workflow tasks when `include_task`; the other tasks of the batch reuse it.
    Returns None when the data unit is not in the twin project. Raises the SDK's `AuthorisationError`, naming the
    twin project, when the runner's credentials cannot read it.
    """
    key = ("dep_twin_label_row", twin_project_hash, init_labels, include_task)

    def twin_label_row(label_row: LabelRowV2, scope: TaskScope) -> Twin | None:
        batch = scope.batch
        twins = batch.memo(
            key, lambda: _TwinLookup.load(batch, twin_project_hash, init_labels=init_labels, include_task=include_task)
        )
        return twins.twin_for(label_row.data_hash)

    twin_label_row.__qualname__ = twin_label_row.__name__ = f"dep_twin_label_row({twin_project_hash!r})"
    return twin_label_row


@dataclass(frozen=True)
class _TwinLookup:
    """One batch's view of a twin project: twins by data hash, or the error every task of the batch gets."""

    twin_project_hash: str
    twins: dict[str, Twin] = field(default_factory=dict)
    denied: str | None = None

    def twin_for(self, data_hash: str) -> Twin | None:
        if self.denied is not None:
            raise AuthorisationError(self.denied)
        return self.twins.get(str(data_hash))

    @classmethod
    def load(cls, batch: BatchScope, twin_project_hash: str, *, init_labels: bool, include_task: bool) -> _TwinLookup:
        try:
            project = batch.client.get_project(twin_project_hash)
            rows = project.list_label_rows_v2(data_hashes=[str(task.data_hash) for task in batch.tasks])
        except (AuthorisationError, AuthenticationError) as exc:
            # Remembered for the batch: one refused request, not one per task.
            message = (
                f"dep_twin_label_row: the runner's credentials cannot read the twin project {twin_project_hash} "
                f"({type(exc).__name__}); give the service account access to it"
            )
            return cls(twin_project_hash, denied=message)
        if init_labels and rows:
            with project.create_bundle() as bundle:
                for row in rows:
                    row.initialise_labels(bundle=bundle)
        tasks = _twin_tasks(project, rows) if include_task else {}
        twins = {row.data_hash: Twin(label_row=row, task=tasks.get(row.data_hash)) for row in rows}
        return cls(twin_project_hash, twins=twins)


def _twin_tasks(project: object, rows: Sequence[LabelRowV2]) -> dict[str, WorkflowTask]:
    """The twins' workflow tasks: one listing per stage they sit in. Failures leave `task=None`, as the reference."""
    from encord.project import Project

    assert isinstance(project, Project)
    by_stage: dict[UUID | str, list[str]] = {}
    for row in rows:
        node = row.workflow_graph_node
        if node is not None:
            by_stage.setdefault(node.uuid, []).append(row.data_hash)
    found: dict[str, WorkflowTask] = {}
    for stage_uuid, data_hashes in by_stage.items():
        try:
            stage = project.workflow.get_stage(uuid=stage_uuid)
            get_tasks = getattr(stage, "get_tasks", None)
            if get_tasks is None:  # e.g. the Complete stage lists no tasks
                continue
            for task in get_tasks(data_hash=data_hashes):
                found[str(task.data_hash)] = task
        except Exception:
            logger.warning("dep_twin_label_row: could not list twin tasks of stage %s", stage_uuid, exc_info=True)
    return found


# --- deprecated ----------------------------------------------------------------------------------------------------


class DataLookup:
    """Deprecated: storage items by data hash for the batch's project. Use `dep_storage_item` instead."""

    def __init__(self, batch: BatchScope) -> None:
        self._batch = batch
        self._backing: dict[str, UUID] = {}
        self._lock = threading.Lock()

    def get_storage_item(
        self, data_hash: str | UUID, dataset_hash: str | UUID | None = None, sign_url: bool = False
    ) -> StorageItem:
        """The storage item behind `data_hash` (`dataset_hash` is accepted for compatibility and not needed)."""
        return self._batch.client.get_storage_item(self._backing_uuid(str(data_hash)), sign_url=sign_url)

    def get_storage_items(
        self, data_hashes: Sequence[str | UUID], dataset_hash: str | UUID | None = None, sign_urls: bool = False
    ) -> list[StorageItem]:
        uuids = [self._backing_uuid(str(data_hash)) for data_hash in data_hashes]
        return list(self._batch.client.get_storage_items(uuids, sign_url=sign_urls))

    def _backing_uuid(self, data_hash: str) -> UUID:
        with self._lock:
            if data_hash not in self._backing:
                # One listing covers the whole batch, plus the asked-for hash if it is not one of the batch's.
                wanted = {str(task.data_hash) for task in self._batch.tasks} | {data_hash}
                for row in self._batch.project.list_label_rows_v2(data_hashes=sorted(wanted - set(self._backing))):
                    if row.backing_item_uuid is not None:
                        self._backing[row.data_hash] = row.backing_item_uuid
            if data_hash not in self._backing:
                raise ValueError(f"data unit {data_hash} is not in project {self._batch.project.project_hash}")
            return self._backing[data_hash]


def dep_data_lookup(scope: TaskScope) -> DataLookup:
    """Deprecated: use `dep_storage_item` (or a parameter annotated `StorageItem`) instead."""
    warnings.warn(
        "dep_data_lookup is deprecated: use dep_storage_item, or annotate a parameter `StorageItem`, "
        "to get the task's storage item",
        DeprecationWarning,
        stacklevel=2,
    )
    return scope.batch.memo("dep_data_lookup", lambda: DataLookup(scope.batch))


__all__ = [
    "DataLookup",
    "Frame",
    "Twin",
    "dep_asset",
    "dep_client",
    "dep_data_lookup",
    "dep_frame",
    "dep_single_frame",
    "dep_storage_item",
    "dep_twin_label_row",
    "dep_video_iterator",
    "dep_video_sampler",
]
