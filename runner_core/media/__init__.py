"""Media access for agents: streaming downloads and PyAV decoding.

`sources` maps a storage item to files and frames; `downloads` streams files with timeouts, retries and a size
cap; `frames` and `video` decode with PyAV; `temp` owns per-task temp dirs; `settings` holds the limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner_core.media.errors import (
    AssetRejectedError,
    AssetTooLargeError,
    DownloadError,
    FrameNotFoundError,
    MediaDecodeError,
    MediaError,
    NoSingleAssetError,
    UnsupportedItemTypeError,
)
from runner_core.media.settings import MediaSettings

if TYPE_CHECKING:
    from runner_core.media.video import Frame, VideoSampler


def __getattr__(name: str) -> Any:
    # PyAV loads only when frames are used: the runner imports `media.settings` for every batch.
    if name in ("Frame", "VideoSampler"):
        from runner_core.media import video

        return getattr(video, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AssetRejectedError",
    "AssetTooLargeError",
    "DownloadError",
    "Frame",
    "FrameNotFoundError",
    "MediaDecodeError",
    "MediaError",
    "MediaSettings",
    "NoSingleAssetError",
    "UnsupportedItemTypeError",
    "VideoSampler",
]
