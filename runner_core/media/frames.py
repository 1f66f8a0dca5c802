"""Single frames as RGB `uint8` arrays `(h, w, 3)`, decoded with PyAV (JPEG and WebP stills with Pillow).

A frame of a remote video is read without downloading the file: PyAV demuxes the signed URL through bounded HTTP
Range requests, seeks to the keyframe at or before the frame and decodes forward to it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.video.frame
import av.video.stream
import numpy as np
from av.video.reformatter import VideoReformatter
from numpy.typing import NDArray

from runner_core.media.downloads import download
from runner_core.media.errors import FrameNotFoundError, MediaDecodeError
from runner_core.media.pyav import Source, frame_rate, open_input, translate_errors, video_stream
from runner_core.media.remote import RangeNotSupportedError
from runner_core.media.settings import MediaSettings
from runner_core.media.temp import task_temp_dir

RGBImage = NDArray[np.uint8]


def to_rgb(frame: av.video.frame.VideoFrame, reformatter: VideoReformatter | None = None) -> RGBImage:
    """The frame's pixels as RGB. Pass one `VideoReformatter` for every frame of a stream: `to_ndarray(format=)`
    builds a new one (a new swscale context) per frame, a third of the conversion's cost over a whole video."""
    converted = frame if reformatter is None else reformatter.reformat(frame, format="rgb24")
    array = converted.to_ndarray(format="rgb24")
    assert array.dtype == np.uint8  # rgb24 is 8 bits per channel
    return array  # type: ignore[return-value]


# Still-image formats decoded straight by their codec: skipping the demuxer also skips its stream probing, which
# decodes the picture once more (half the cost of a PNG).
_IMAGE_CODECS: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "png"),
    (b"\xff\xd8\xff", 0, "mjpeg"),
    (b"WEBP", 8, "webp"),
    (b"BM", 0, "bmp"),
    (b"GIF8", 0, "gif"),
)


# Lossy stills whose pixels depend on the decoder's chroma upsampling: Pillow decodes them with libjpeg-turbo and
# libwebp, the libraries OpenCV (and so encord-agents) uses, giving the same pixels; FFmpeg's own decoders differ
# by tens of levels at sharp colour edges.
_PILLOW_CODECS = frozenset({"mjpeg", "webp"})


def _decode_with_pillow(data: bytes, *, name: str) -> RGBImage:
    # Imported here: most agents never see a JPEG, and a cold start should not pay for Pillow's import.
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise MediaDecodeError(f"{name}: could not decode ({type(exc).__name__}: {exc})") from None


def _image_codec(data: bytes) -> str | None:
    return next((codec for magic, offset, codec in _IMAGE_CODECS if data[offset : offset + len(magic)] == magic), None)


def decode_image(path: Path, *, settings: MediaSettings, name: str) -> RGBImage:
    """The pixels of a still image file (PNG, JPEG, WebP, BMP, GIF, TIFF...) as RGB."""
    return decode_image_bytes(path.read_bytes(), name=name)


def decode_image_bytes(data: bytes, *, name: str) -> RGBImage:
    """The pixels of a still image held in memory (PNG, JPEG, WebP, BMP, GIF, TIFF...) as RGB."""
    codec = _image_codec(data)
    if codec in _PILLOW_CODECS:
        return _decode_with_pillow(data, name=name)
    if codec is not None:
        with translate_errors(name):
            frames = av.CodecContext.create(codec, "r").decode(av.Packet(data))  # type: ignore[attr-defined]
        if frames and isinstance(frames[0], av.video.frame.VideoFrame):
            return to_rgb(frames[0])
    # Other formats (TIFF...) need the demuxer to find their codec; it reads the bytes as a file object.
    with translate_errors(name), av.open(io.BytesIO(data), mode="r") as container:
        stream = video_stream(container, name=name)
        for frame in container.decode(stream):
            return to_rgb(frame)
    raise MediaDecodeError(f"{name}: the image holds no picture")


_ENCODERS = {".png": ("png", "rgb24", "image/png"), ".jpg": ("mjpeg", "yuvj420p", "image/jpeg")}
_ENCODERS[".jpeg"] = _ENCODERS[".jpg"]


def encode_image(content: RGBImage, image_format: str) -> tuple[bytes, str]:
    """Encode RGB pixels as PNG or JPEG with PyAV; returns the bytes and their media type."""
    if image_format not in _ENCODERS:
        raise ValueError(f"image_format must be one of {sorted(_ENCODERS)}, got {image_format!r}")
    codec, pixel_format, media_type = _ENCODERS[image_format]
    height, width = content.shape[:2]
    context = av.CodecContext.create(codec, "w")
    context.width, context.height, context.pix_fmt = width, height, pixel_format  # type: ignore[attr-defined]
    context.time_base = Fraction(1, 1)
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(content), format="rgb24").reformat(format=pixel_format)
    packets = [*context.encode(frame), *context.encode(None)]  # type: ignore[attr-defined]
    return b"".join(bytes(packet) for packet in packets), media_type


def read_video_frame(
    source: Source,
    index: int,
    *,
    settings: MediaSettings,
    name: str,
    resign: Callable[[], str | None] | None = None,
) -> RGBImage:
    """Frame `index` (0-based, presentation order) of a video file or URL, as RGB.

    A URL is read through bounded Range requests (only the index and the keyframe-to-frame span are fetched);
    transient HTTP failures are retried and a rejected signed URL is re-signed once via `resign`.
    """
    if index < 0:
        raise FrameNotFoundError(f"{name}: frame index must be >= 0, got {index}")
    try:
        with open_input(source, settings=settings, name=name, resign=resign) as container, translate_errors(name):
            return _seek_and_decode(container, index, name=name)
    except RangeNotSupportedError:
        pass
    # The server ignores Range: fetch the whole file (streamed, capped) and read it locally.
    with task_temp_dir(settings) as directory:
        path = directory / "video"
        download(str(source), path, settings=settings, name=name, resign=resign)
        return read_video_frame(path, index, settings=settings, name=name)


def frame_index(frame: av.video.frame.VideoFrame, *, start: int, time_base: Fraction, rate: Fraction) -> int | None:
    """The position of a decoded frame in the video, from its timestamp (constant frame rate)."""
    if frame.pts is None:
        return None
    return round((frame.pts - start) * time_base * rate)


def frame_timestamp(index: int, *, start: int, time_base: Fraction, rate: Fraction) -> int:
    """The timestamp of frame `index`, the inverse of `frame_index` (constant frame rate)."""
    return start + round(index / (rate * time_base))


def _seek_and_decode(container: av.container.InputContainer, index: int, *, name: str) -> RGBImage:
    stream = video_stream(container, name=name)
    if stream.time_base is None:
        raise MediaDecodeError(f"{name}: the video stream has no time base")
    time_base = Fraction(stream.time_base)
    rate = frame_rate(stream, name=name)
    start = stream.start_time or 0
    if index > 0:
        # Seeking with backward=True lands on the keyframe at or before the target timestamp.
        target = frame_timestamp(index, start=start, time_base=time_base, rate=rate)
        container.seek(target, stream=stream, backward=True)
    found = _decode_until(container, stream, index, start=start, time_base=time_base, rate=rate, name=name)
    if found is None:
        # Some files land past the target (inexact indexes): fall back to decoding from the start.
        container.seek(start, stream=stream, backward=True)
        found = _decode_until(container, stream, index, start=start, time_base=time_base, rate=rate, name=name)
    if found is None:
        raise MediaDecodeError(f"{name}: could not position the decoder at frame {index}")
    return found


def _decode_until(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    index: int,
    *,
    start: int,
    time_base: Fraction,
    rate: Fraction,
    name: str,
) -> RGBImage | None:
    """Decode forward to frame `index`; None when the first frame decoded is already past it (a seek overshoot)."""
    first = True
    last: int | None = None
    for frame in container.decode(stream):
        position = frame_index(frame, start=start, time_base=time_base, rate=rate)
        if position is None:
            continue
        if position >= index:
            if first and position > index > 0:
                return None
            return to_rgb(frame)
        first = False
        last = position
    total = "unknown" if last is None else str(last + 1)
    raise FrameNotFoundError(f"{name}: frame {index} is past the end of the video ({total} frames)")
