"""Test helpers: a Range-honouring HTTP file server with scripted faults, and small real media files."""

from __future__ import annotations

import io
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import av
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from runner_core.media.settings import MediaSettings


@dataclass(frozen=True)
class MediaFiles:
    video: Path  # 90 frames 128x96, 30 fps, keyframe every 15, B-frames
    png: Path  # 64x48, pattern_frame(3)
    jpeg: Path  # 64x48, pattern_frame(4)
    long_video: Path  # 300 frames 320x240, keyframe every 30


@dataclass
class Fault:
    """What the server does instead of (or while) serving one request."""

    status: int | None = None  # answer this status with a short body
    headers: dict[str, str] = field(default_factory=dict)
    reset_after: int | None = None  # send this many body bytes, then drop the connection
    delay_s: float = 0.0  # sleep before answering
    no_length: bool = False  # close-delimited body without Content-Length


@dataclass
class Served:
    data: bytes
    valid_tokens: set[str] | None = None  # when set, ?sig= must be one of them (else 403)
    ignore_range: bool = False  # answer 200 with the whole body, as servers without Range support do
    faults: deque[Fault] = field(default_factory=deque)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up mid-body (seeking decoders, reset faults) are expected here


class FileServer:
    def __init__(self) -> None:
        self.files: dict[str, Served] = {}
        self.requests: list[tuple[str, str | None, int]] = []  # (path, Range header, status)
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def add(
        self,
        path: str,
        data: bytes,
        *,
        valid_tokens: set[str] | None = None,
        faults: list[Fault] | None = None,
        ignore_range: bool = False,
    ) -> str:
        self.files[path] = Served(
            data=data, valid_tokens=valid_tokens, faults=deque(faults or []), ignore_range=ignore_range
        )
        return f"{self.base_url}{path}"

    def count(self, path: str) -> int:
        return sum(1 for requested, _, _ in self.requests if requested == path)

    def _record(self, path: str, range_header: str | None, status: int) -> None:
        with self._lock:
            self.requests.append((path, range_header, status))

    def _sent(self, count: int) -> None:
        with self._lock:
            self.bytes_sent += count

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                served = server.files.get(parts.path)
                range_header = self.headers.get("Range")
                if served is None:
                    return self._short(parts.path, range_header, 404)
                fault = served.faults.popleft() if served.faults else Fault()
                if fault.delay_s:
                    time.sleep(fault.delay_s)
                if fault.status is not None:
                    return self._short(parts.path, range_header, fault.status, fault.headers)
                token = parse_qs(parts.query).get("sig", [""])[0] or None
                if served.valid_tokens is not None and token not in served.valid_tokens:
                    return self._short(parts.path, range_header, 403)
                data = served.data
                start, end, status = 0, len(data) - 1, 200
                match = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header or "")
                if match and not served.ignore_range:
                    start = int(match[1])
                    end = min(int(match[2]), len(data) - 1) if match[2] else len(data) - 1
                    status = 206
                body = data[start : end + 1]
                server._record(parts.path, range_header, status)
                self.send_response(status)
                self.send_header("Accept-Ranges", "bytes")
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                if fault.no_length:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                else:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if fault.reset_after is not None:
                    body = body[: fault.reset_after]
                    self.close_connection = True
                try:
                    for offset in range(0, len(body), 65536):
                        chunk = body[offset : offset + 65536]
                        self.wfile.write(chunk)
                        server._sent(len(chunk))
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _short(
                self, path: str, range_header: str | None, status: int, headers: dict[str, str] | None = None
            ) -> None:
                body = f"status {status}".encode()
                server._record(path, range_header, status)
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def __enter__(self) -> FileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def pattern_frame(index: int, width: int, height: int) -> NDArray[np.uint8]:
    """A frame whose content identifies its index (moving gradients plus a per-frame block)."""
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.empty((height, width, 3), np.uint8)
    image[..., 0] = (xx * 2 + index * 9) % 256
    image[..., 1] = (yy * 2 + index * 5) % 256
    image[..., 2] = (index * 37) % 256
    image[: height // 4, : width // 4] = (index * 53) % 256
    return image


def encode_video(
    path: Path, *, frames: int, width: int = 128, height: int = 96, fps: int = 30, gop: int = 15, bframes: bool = True
) -> Path:
    """A real h264 mp4. With `bframes`, decode order differs from presentation order, as in camera footage."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = gop
        stream.codec_context.options = {
            "preset": "veryfast" if bframes else "ultrafast",
            "sc_threshold": "0",
            "keyint_min": str(gop),
            "bf": "2" if bframes else "0",
        }
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(pattern_frame(index, width, height), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def decode_all(path: Path) -> list[NDArray[np.uint8]]:
    """Every frame of a file, decoded start to end: the ground truth for seeking."""
    with av.open(str(path)) as container:
        return [np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8) for frame in container.decode(video=0)]


def make_media_files(factory: pytest.TempPathFactory) -> MediaFiles:
    """The test media (the `media_files` fixture encodes it once per session)."""
    root = factory.mktemp("media")
    png = root / "still.png"
    Image.fromarray(pattern_frame(3, 64, 48)).save(png)
    buffer = io.BytesIO()
    Image.fromarray(pattern_frame(4, 64, 48)).save(buffer, format="JPEG", quality=95)
    jpeg = root / "still.jpg"
    jpeg.write_bytes(buffer.getvalue())
    return MediaFiles(
        video=encode_video(root / "clip.mp4", frames=90),
        png=png,
        jpeg=jpeg,
        long_video=encode_video(root / "long.mp4", frames=300, width=320, height=240, gop=30, bframes=False),
    )


def fast_settings(root: Path) -> MediaSettings:
    """Fast-failing settings with a private temp root."""
    return MediaSettings(
        temp_dir=root / "temp-root",
        download_timeout_s=2.0,
        download_retries=2,
        download_backoff_s=0.01,
        range_request_bytes=64 * 1024,
    )
