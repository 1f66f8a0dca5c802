"""Videos as streams of frames: full iteration in constant memory, and sampling by rate or by index."""

from __future__ import annotations

import base64
import logging
import os
import sys
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np
from av.video.reformatter import VideoReformatter
from numpy.typing import NDArray

from runner_core.media.frames import encode_image, frame_index, frame_timestamp, to_rgb
from runner_core.media.pyav import Source, frame_rate, open_input, translate_errors, video_stream
from runner_core.media.settings import MediaSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame: its 0-based index in the video and its RGB pixels `(h, w, 3)`."""

    frame: int
    content: NDArray[np.uint8]

    def b64_encoding(
        self,
        image_format: Literal[".jpeg", ".jpg", ".png"] = ".jpeg",
        output_format: Literal["url", "openai", "anthropic", "raw"] = "url",
    ) -> str | dict[str, Any]:
        """The frame as base64 (e.g. to prompt a vision model), as encord-agents' `Frame.b64_encoding`.

        `raw`: the base64 text; `url`: a `data:` URL; `openai` / `anthropic`: their image content blocks.
        """
        data, media_type = encode_image(self.content, image_format)
        text = base64.b64encode(data).decode("ascii")
        if output_format == "raw":
            return text
        url = f"data:{media_type};base64,{text}"
        if output_format == "url":
            return url
        if output_format == "openai":
            return {"type": "image_url", "image_url": {"url": url}}
        if output_format == "anthropic":
            return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": text}}
        raise ValueError(f"unknown output_format {output_format!r}")


def iter_video(source: Source, *, settings: MediaSettings, name: str) -> Generator[Frame, None, None]:
    """Every frame in order. Frames are decoded one at a time, so memory stays flat however long the video.

    FFmpeg decodes on one thread per available CPU (frame and slice threading, as OpenCV's reader does): a few
    frames in flight, not the video.
    """
    with open_input(source, settings=settings, name=name) as container, translate_errors(name):
        stream = video_stream(container, name=name)
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = decode_threads()
        reformatter = VideoReformatter()
        recycled = FrameBuffers()
        for number, frame in enumerate(container.decode(stream)):
            yield Frame(frame=number, content=recycled.hold(to_rgb(frame, reformatter)))


class FrameBuffers:
    """Pixel arrays handed out again once nobody holds them, so a long video does not churn the allocator.

    Each converted frame is a fresh multi-megabyte allocation; while the caller holds the previous one, glibc
    returns the top of the heap to the system on every other free and faults it back in on the next allocation
    (measured: ~800k page faults and +60% CPU over 1,800 720p frames). Copying into an array the caller has
    dropped keeps the memory mapped. An array is reused only when this pool holds the sole reference (a kept
    frame, a view or a buffer export all count), so frames a caller keeps are never overwritten.
    """

    def __init__(self, *, spares: int = 3) -> None:
        self._arrays: list[NDArray[np.uint8]] = []
        self._spares = spares

    def hold(self, pixels: NDArray[np.uint8]) -> NDArray[np.uint8]:
        for array in self._arrays:
            # References: the list, the loop variable and getrefcount's argument: nobody else.
            if sys.getrefcount(array) == 3 and array.shape == pixels.shape:
                np.copyto(array, pixels)
                return array
        if len(self._arrays) >= self._spares:
            return pixels  # the caller is keeping frames: stop pooling, hand out fresh arrays
        array = pixels.copy()
        self._arrays.append(array)
        return array


def decode_threads() -> int:
    """Decoder threads for a whole-video pass: the CPUs this process may run on.

    Measured (bench/RESULTS.md): FFmpeg's own choice (thread_count 0) ran more threads than CPUs on 2 cores and
    spent ~1.8x the CPU time for the same frames; one per CPU decodes as fast and costs no more than one thread.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def iter_video_at(source: Source, indices: Sequence[int], *, settings: MediaSettings, name: str) -> Iterator[Frame]:
    """The frames at `indices`, in ascending order (a repeated index yields its frame again).

    Close targets are reached by decoding forward, distant ones by seeking to the keyframe before them. Indices
    past the end of the video are dropped with a warning, as the reference sampler does.
    """
    wanted = sorted(indices)
    if wanted and wanted[0] < 0:
        raise ValueError(f"frame indices must be >= 0, got {wanted[0]}")
    if not wanted:
        return
    with open_input(source, settings=settings, name=name) as container, translate_errors(name):
        stream = video_stream(container, name=name)
        time_base = Fraction(stream.time_base or 0)
        rate = frame_rate(stream, name=name)
        start = stream.start_time or 0
        seek_gap = max(1, round(rate))  # decoding a second forward beats a seek plus a keyframe decode
        frames = container.decode(stream)
        reformatter = VideoReformatter()
        position = -1
        previous: Frame | None = None
        for target in wanted:
            if previous is not None and previous.frame == target:
                yield previous
                continue
            if target - position > seek_gap:
                timestamp = frame_timestamp(target, start=start, time_base=time_base, rate=rate)
                container.seek(timestamp, stream=stream, backward=True)
                frames = container.decode(stream)
            for decoded in frames:
                found = frame_index(decoded, start=start, time_base=time_base, rate=rate)
                if found is None:
                    continue
                position = found
                if found >= target:
                    break
            else:
                logger.warning("media: %s: frames from %d on are past the end of the video; stopping", name, target)
                return
            previous = Frame(frame=target, content=to_rgb(decoded, reformatter))
            yield previous


def sample_indices(rate: float, frame_count: int) -> list[int]:
    """Every `1/rate`-th frame index below `frame_count`: rate 1/5 gives 0, 5, 10, ..."""
    if not 0 < rate <= 1:
        raise ValueError(f"the sampling rate must be in (0, 1], got {rate}")
    step = 1 / rate
    indices: list[int] = []
    for k in range(frame_count):
        index = int(k * step + 1e-9)  # the epsilon keeps 3 * (1/0.1) from rounding down to 29
        if index >= frame_count:
            break
        indices.append(index)
    return indices


class VideoSampler:
    """What `dep_video_sampler` injects: `sampler(1/5)` for every fifth frame, `sampler([0, 10])` for chosen ones."""

    def __init__(self, path: Path, *, frame_count: Callable[[], int], settings: MediaSettings, name: str) -> None:
        self._path = path
        self._frame_count = frame_count
        self._settings = settings
        self._name = name

    def __call__(self, frame_indexer: float | Sequence[int]) -> Iterator[Frame]:
        if isinstance(frame_indexer, int | float):
            if not 0 < frame_indexer <= 1:
                raise ValueError(f"the sampling rate must be in (0, 1], got {frame_indexer}")
            indices = sample_indices(float(frame_indexer), self._frame_count())
        else:
            indices = list(frame_indexer)
        return iter_video_at(self._path, indices, settings=self._settings, name=self._name)
