"""Real media for seeded items: PNG/JPEG images and PDFs (Pillow), h264 mp4 videos and mp3 audio (PyAV) and
plain text, cached on disk.

Generated files are content-addressed by their parameters, so a test session that starts many emulators pays
for encoding once; files named by the seed are probed for their size, dimensions and frame count.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

from encord_emulator.errors import MediaError
from encord_emulator.seed import GenerateParams

# Bump when the drawing or encoding changes, so stale cache entries are not reused.
_GENERATOR_VERSION = 1
CACHE_ENV = "ENCORD_EMULATOR_MEDIA_CACHE"

_IMAGE_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
_VIDEO_MIME = {".mp4": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm", ".mkv": "video/x-matroska"}


@dataclass(frozen=True, slots=True)
class AudioInfo:
    codec: str
    sample_rate: int
    channels: int
    bit_depth: int
    duration: float


@dataclass(frozen=True, slots=True)
class MediaFile:
    path: Path
    mime_type: str
    size: int
    width: int
    height: int
    frames: int | None = None
    fps: float | None = None
    audio: AudioInfo | None = None

    @property
    def duration(self) -> float | None:
        if self.audio is not None:
            return self.audio.duration
        if self.frames is None or not self.fps:
            return None
        return self.frames / self.fps


def default_cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "runner-core" / "media"


def _cache_key(kind: str, payload: object) -> str:
    text = json.dumps({"kind": kind, "v": _GENERATOR_VERSION, "p": payload}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _atomic_target(final: Path) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=final.parent, prefix=".tmp-", suffix=final.suffix)
    os.close(handle)
    return Path(name)


def _rgb_for(params: GenerateParams) -> tuple[int, int, int]:
    rng = random.Random(params.seed)
    low, high = {"bright": (190, 255), "dark": (5, 60), None: (30, 230)}[params.brightness]
    return (rng.randint(low, high), rng.randint(low, high), rng.randint(low, high))


def _draw_image(params: GenerateParams) -> Image.Image:
    rng = random.Random(params.seed * 7919 + 1)
    image = Image.new("RGB", (params.width, params.height), _rgb_for(params))
    draw = ImageDraw.Draw(image)
    w, h = params.width, params.height
    x0, y0 = rng.randint(0, w // 2), rng.randint(0, h // 2)
    x1, y1 = x0 + rng.randint(w // 8, w // 2), y0 + rng.randint(h // 8, h // 2)
    fill = tuple(255 - c for c in _rgb_for(params))
    draw.rectangle((x0, y0, min(x1, w - 1), min(y1, h - 1)), fill=(fill[0], fill[1], fill[2]))
    return image


def generate_image(params: GenerateParams, *, cache_dir: Path) -> MediaFile:
    fmt = params.format or "png"
    suffix = ".jpg" if fmt == "jpeg" else ".png"
    final = cache_dir / f"img-{_cache_key('image', params.model_dump(mode='json'))}{suffix}"
    if not final.exists():
        tmp = _atomic_target(final)
        _draw_image(params).save(tmp, format=fmt.upper())
        os.replace(tmp, final)
    return MediaFile(final, _IMAGE_MIME[suffix], final.stat().st_size, params.width, params.height)


def _video_frames(params: GenerateParams) -> Iterator[np.ndarray]:
    base = np.array(_rgb_for(params), dtype=np.uint8)
    box_w, box_h = max(2, params.width // 5), max(2, params.height // 5)
    for index in range(params.frames):
        frame = np.empty((params.height, params.width, 3), dtype=np.uint8)
        frame[:] = base
        # A box moving across the picture, so frames differ and seeking is observable.
        x = (index * 7) % max(1, params.width - box_w)
        y = (index * 3) % max(1, params.height - box_h)
        frame[y : y + box_h, x : x + box_w] = 255 - base
        yield frame


def _encode_mp4(target: Path, frames: Iterator[np.ndarray], *, width: int, height: int, fps: float, gop: int) -> int:
    count = 0
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(target), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop
        # Fixed keyframe spacing (no scene-cut keyframes) so `keyframe_interval` means what it says.
        stream.codec_context.options = {"preset": "ultrafast", "sc_threshold": "0", "keyint_min": str(gop)}
        for array in frames:
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
            count += 1
        for packet in stream.encode():
            container.mux(packet)
    return count


def generate_video(params: GenerateParams, *, cache_dir: Path) -> MediaFile:
    final = cache_dir / f"vid-{_cache_key('video', params.model_dump(mode='json'))}.mp4"
    if not final.exists():
        tmp = _atomic_target(final)
        _encode_mp4(
            tmp,
            _video_frames(params),
            width=params.width,
            height=params.height,
            fps=params.fps,
            gop=params.keyframe_interval,
        )
        os.replace(tmp, final)
    return MediaFile(final, "video/mp4", final.stat().st_size, params.width, params.height, params.frames, params.fps)


def video_from_images(images: Sequence[MediaFile], *, fps: float, keyframe_interval: int, cache_dir: Path) -> MediaFile:
    """The mp4 an image sequence is served as (Encord converts sequences to video)."""
    if not images:
        raise MediaError("an image sequence needs at least one image")
    width, height = images[0].width - images[0].width % 2, images[0].height - images[0].height % 2
    digest = [hashlib.sha256(image.path.read_bytes()).hexdigest() for image in images]
    key = _cache_key("sequence", {"images": digest, "fps": fps, "gop": keyframe_interval, "w": width, "h": height})
    final = cache_dir / f"seq-{key}.mp4"
    if not final.exists():
        tmp = _atomic_target(final)

        def frames() -> Iterator[np.ndarray]:
            for image in images:
                with Image.open(image.path) as opened:
                    yield np.asarray(opened.convert("RGB").resize((width, height)))

        _encode_mp4(tmp, frames(), width=width, height=height, fps=fps, gop=keyframe_interval)
        os.replace(tmp, final)
    return MediaFile(final, "video/mp4", final.stat().st_size, width, height, len(images), fps)


def probe_image(path: Path) -> MediaFile:
    mime = _IMAGE_MIME.get(path.suffix.lower())
    if mime is None:
        raise MediaError(f"{path}: unsupported image type {path.suffix!r} (use one of {sorted(_IMAGE_MIME)})")
    try:
        with Image.open(path) as image:
            width, height = image.size
    except OSError as exc:
        raise MediaError(f"{path}: not a readable image ({exc})") from exc
    return MediaFile(path, mime, path.stat().st_size, width, height)


def probe_video(path: Path) -> MediaFile:
    mime = _VIDEO_MIME.get(path.suffix.lower())
    if mime is None:
        raise MediaError(f"{path}: unsupported video type {path.suffix!r} (use one of {sorted(_VIDEO_MIME)})")
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate) if stream.average_rate else 0.0
            frames = stream.frames or sum(1 for _ in container.demux(stream) if _.size)
            width, height = stream.codec_context.width, stream.codec_context.height
    except (av.FFmpegError, IndexError) as exc:
        raise MediaError(f"{path}: not a readable video ({exc})") from exc
    return MediaFile(path, mime, path.stat().st_size, width, height, frames, fps or None)


# ---- documents, audio and text (pdf, audio and plain-text items, data group members) --------------------------

_AUDIO_MIME = {".mp3": "audio/mpeg", ".wav": "audio/wav", ".m4a": "audio/mp4", ".ogg": "audio/ogg"}
_TEXT_MIME = {".txt": "text/plain", ".json": "application/json", ".html": "text/html", ".csv": "text/csv"}
_AUDIO_RATE = 22_050


def generate_pdf(params: GenerateParams, *, cache_dir: Path) -> MediaFile:
    """A one-page PDF showing the picture `params` describes (Pillow writes PDFs itself)."""
    final = cache_dir / f"pdf-{_cache_key('pdf', params.model_dump(mode='json'))}.pdf"
    if not final.exists():
        tmp = _atomic_target(final)
        _draw_image(params).save(tmp, format="PDF")
        os.replace(tmp, final)
    return MediaFile(final, "application/pdf", final.stat().st_size, params.width, params.height, frames=1)


def generate_audio(params: GenerateParams, *, cache_dir: Path) -> MediaFile:
    """A mono mp3 tone lasting `frames / fps` seconds, its pitch set by `seed` (PyAV's libmp3lame)."""
    seconds = params.frames / params.fps
    final = cache_dir / f"aud-{_cache_key('audio', params.model_dump(mode='json'))}.mp3"
    if not final.exists():
        tmp = _atomic_target(final)
        pitch = 220.0 + 20.0 * (params.seed % 40)
        samples = np.sin(2 * np.pi * pitch * np.arange(int(seconds * _AUDIO_RATE)) / _AUDIO_RATE)
        pcm = (samples * 0.3 * 32767).astype(np.int16)
        with av.open(str(tmp), mode="w", format="mp3") as container:
            stream = container.add_stream("libmp3lame", rate=_AUDIO_RATE)
            stream.layout = "mono"
            chunk = 1152 * 4
            for start in range(0, len(pcm), chunk):
                frame = av.AudioFrame.from_ndarray(pcm[None, start : start + chunk], format="s16", layout="mono")
                frame.sample_rate = _AUDIO_RATE
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        os.replace(tmp, final)
    audio = AudioInfo(codec="mp3", sample_rate=_AUDIO_RATE, channels=1, bit_depth=16, duration=seconds)
    return MediaFile(final, "audio/mpeg", final.stat().st_size, 0, 0, audio=audio)


def generate_text(params: GenerateParams, *, cache_dir: Path) -> MediaFile:
    """A small plain-text file whose lines depend on `seed`."""
    final = cache_dir / f"txt-{_cache_key('text', params.model_dump(mode='json'))}.txt"
    if not final.exists():
        tmp = _atomic_target(final)
        rng = random.Random(params.seed)
        words = ["encord", "agent", "label", "frame", "stage", "pathway", "task", "emulator"]
        lines = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(max(1, params.frames // 10))]
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, final)
    return MediaFile(final, "text/plain", final.stat().st_size, 0, 0)


def probe_pdf(path: Path) -> MediaFile:
    if path.suffix.lower() != ".pdf":
        raise MediaError(f"{path}: a pdf item needs a .pdf file")
    data = path.read_bytes()
    if not data.startswith(b"%PDF"):
        raise MediaError(f"{path}: not a PDF file")
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    return MediaFile(path, "application/pdf", len(data), 0, 0, frames=max(1, pages))


def probe_audio(path: Path) -> MediaFile:
    mime = _AUDIO_MIME.get(path.suffix.lower())
    if mime is None:
        raise MediaError(f"{path}: unsupported audio type {path.suffix!r} (use one of {sorted(_AUDIO_MIME)})")
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            context = stream.codec_context
            duration = float(container.duration / av.time_base) if container.duration else 0.0
            bits = context.format.bits if context.format is not None else 16
            audio = AudioInfo(
                codec=context.name,
                sample_rate=context.sample_rate,
                channels=context.channels,
                bit_depth=bits,
                duration=duration,
            )
    except (av.FFmpegError, IndexError) as exc:
        raise MediaError(f"{path}: not a readable audio file ({exc})") from exc
    return MediaFile(path, mime, path.stat().st_size, 0, 0, audio=audio)


def probe_text(path: Path) -> MediaFile:
    mime = _TEXT_MIME.get(path.suffix.lower())
    if mime is None:
        raise MediaError(f"{path}: unsupported text type {path.suffix!r} (use one of {sorted(_TEXT_MIME)})")
    return MediaFile(path, mime, path.stat().st_size, 0, 0)
