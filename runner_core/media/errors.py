"""Errors raised while fetching or decoding media. Each message names the asset, never its signed URL.

They sit in runner-core's hierarchy so a queue knows what to do: network trouble is a `RetryableError`
(redeliver), a property of the asset (too large, refused, undecodable, no such frame) is a `PermanentError`.
"""

from __future__ import annotations

from runner_core.errors import PermanentError, RetryableError, RunnerCoreError


class MediaError(RunnerCoreError):
    """Base class for media failures."""


class DownloadError(MediaError, RetryableError):
    """The asset could not be fetched after the configured retries (429, 5xx, resets, timeouts)."""


class AssetRejectedError(MediaError, PermanentError):
    """The server refused the asset (e.g. 404, or a signed URL still rejected after re-signing)."""


class AssetTooLargeError(MediaError, PermanentError):
    """The asset is larger than `RUNNER_DOWNLOAD_MAX_BYTES`."""

    def __init__(self, *, name: str, size: int, limit: int) -> None:
        super().__init__(
            f"{name}: at least {size} bytes, over the download limit of {limit} bytes "
            "(raise RUNNER_DOWNLOAD_MAX_BYTES to allow it)"
        )
        self.size = size
        self.limit = limit


class MediaDecodeError(MediaError, PermanentError):
    """PyAV could not decode the asset (corrupt file or unsupported codec)."""


class FrameNotFoundError(MediaError, PermanentError, IndexError):
    """The requested frame index does not exist in the asset."""


class UnsupportedItemTypeError(MediaError, PermanentError, NotImplementedError):
    """The dependency cannot serve this storage item type (e.g. a video iterator for an image)."""


class NoSingleAssetError(MediaError, PermanentError, ValueError, NotImplementedError):
    """The item has no single file to hand out (image groups, groups, DICOM series, scenes, no signed URL).

    Also a `NotImplementedError`: what encord-agents' `dep_asset` raises for image groups and groups, so agent code
    catching that keeps working."""
