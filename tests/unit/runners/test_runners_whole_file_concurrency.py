"""Which agents keep whole files on disk per task (their batches then run at most `max_large_downloads` at once)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
from numpy.typing import NDArray

from runner_core.dependencies import dep_asset, dep_single_frame, dep_video_iterator, dep_video_sampler
from runner_core.di import Depends, analyze
from runner_core.runners.execute import holds_whole_files

# Module level: annotations are evaluated in the module's globals.


def with_iterator(frames: Annotated[Any, Depends(dep_video_iterator)]) -> None: ...


def with_sampler(sampler: Annotated[Any, Depends(dep_video_sampler)]) -> None: ...


def size_of(asset: Annotated[Path, Depends(dep_asset)]) -> int:
    return asset.stat().st_size


def nested(size: Annotated[int, Depends(size_of)]) -> None: ...


def frame_only(frame: Annotated[NDArray[np.uint8], Depends(dep_single_frame)]) -> None: ...


def nothing(task_title: str = "") -> None: ...


def test_whole_file_dependencies_are_found_anywhere_in_the_tree() -> None:
    for agent in (with_iterator, with_sampler, nested):
        assert holds_whole_files(analyze(agent, agent=True)), agent.__name__


def test_frames_read_without_a_kept_file_do_not_count() -> None:
    assert not holds_whole_files(analyze(frame_only, agent=True))
    assert not holds_whole_files(analyze(nothing, agent=True))
