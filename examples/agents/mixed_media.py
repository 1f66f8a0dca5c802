"""One agent for a project that mixes images, videos and image groups (the demo project): route each task by how
many frames it has.

`dep_video_iterator` and `dep_video_sampler` serve videos only: on an image they fail the task permanently
(`UnsupportedItemTypeError`), and since dependencies are solved before the agent is called, the agent cannot catch
that. Branch in a dependency of your own instead: it sees the storage item first and picks the reader that fits.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Annotated

from encord.orm.storage import StorageItemType
from encord.storage import StorageItem

from runner_core import Depends, QueueRunner
from runner_core.context import TaskScope
from runner_core.dependencies import Frame, dep_single_frame, dep_video_iterator

runner = QueueRunner(project_hash="7e3b9c1a-4d2f-4a8e-9b6c-1f0d2e3a4b5c")


def dep_any_frames(storage_item: StorageItem, scope: TaskScope) -> Generator[Iterator[Frame], None, None]:
    """Every frame of a video, decoded one at a time; the first frame of an image, image group or sequence."""
    if storage_item.item_type is StorageItemType.VIDEO:
        yield from dep_video_iterator(storage_item, scope)  # its download is removed when the task ends
    else:
        yield iter([Frame(frame=0, content=dep_single_frame(storage_item, scope))])


@runner.stage("pre-label")
def route_by_frame_count(frames: Annotated[Iterator[Frame], Depends(dep_any_frames)]) -> str:
    return "annotate" if sum(1 for _ in frames) > 1 else "skip"
