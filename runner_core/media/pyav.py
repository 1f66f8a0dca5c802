"""Opening media with PyAV, from a local file or a URL (bounded Range requests), with errors mapped to ours."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.error
import av.video.stream

from runner_core.media.errors import AssetRejectedError, MediaDecodeError
from runner_core.media.remote import RangeReader
from runner_core.media.retry import TransientFailure, UrlRejected
from runner_core.media.settings import MediaSettings

Source = str | Path
PYAV_BUFFER_BYTES = 64 * 1024

_REJECTED = {
    av.error.HTTPBadRequestError: 400,
    av.error.HTTPUnauthorizedError: 401,
    av.error.HTTPForbiddenError: 403,
}


def is_remote(source: Source) -> bool:
    return isinstance(source, str) and source.startswith(("http://", "https://"))


@contextmanager
def open_input(
    source: Source,
    *,
    settings: MediaSettings,
    name: str,
    resign: Callable[[], str | None] | None = None,
) -> Iterator[av.container.InputContainer]:
    """Open a local file, or a URL read through bounded Range requests (`RangeReader`), for decoding.

    Network failures while reading raise the media errors of `retry.run_with_retries` (retried per request).
    """
    if not is_remote(source):
        with translate_errors(name):
            container = av.open(str(source), mode="r")
        try:
            yield container
        finally:
            container.close()
        return
    with RangeReader(str(source), settings=settings, name=name, resign=resign) as reader:
        with translate_errors(name):
            container = av.open(reader, mode="r", buffer_size=PYAV_BUFFER_BYTES)
        try:
            yield container
        finally:
            container.close()


@contextmanager
def translate_errors(name: str) -> Iterator[None]:
    """Map PyAV's exceptions: HTTP rejections -> re-sign, 429/5xx/resets/timeouts -> retry, the rest -> decode."""
    try:
        yield
    except (av.error.HTTPTooManyRequestsError, av.error.HTTPServerError) as exc:
        raise TransientFailure(f"HTTP error while reading ({type(exc).__name__})") from None
    except av.error.HTTPClientError as exc:
        status = next((code for kind, code in _REJECTED.items() if isinstance(exc, kind)), None)
        if status is not None:
            raise UrlRejected(status) from None
        raise AssetRejectedError(f"{name}: the server refused the request ({type(exc).__name__})") from None
    except (av.error.ConnectionResetError, av.error.ConnectionRefusedError, av.error.TimeoutError) as exc:
        raise TransientFailure(f"connection failed ({type(exc).__name__})") from None
    except av.error.FFmpegError as exc:
        raise MediaDecodeError(f"{name}: could not decode ({type(exc).__name__}: {exc.strerror})") from None


def video_stream(container: av.container.InputContainer, *, name: str) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise MediaDecodeError(f"{name}: no video stream")
    return container.streams.video[0]


def frame_rate(stream: av.video.stream.VideoStream, *, name: str) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate:
        raise MediaDecodeError(f"{name}: the video does not declare a frame rate")
    return Fraction(rate)
