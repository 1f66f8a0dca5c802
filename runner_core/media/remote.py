"""A remote file as a seekable, read-only stream over bounded HTTP Range requests, for PyAV to demux.

Why not let FFmpeg open the URL: its bounded-request mode (`request_size`, FFmpeg 8.1) hands the demuxer corrupt
data at request boundaries, and its open-ended requests let the server push socket buffers' worth of data that is
never read (a quarter of a 30 MB file for one frame). Reading through Python also gives remote reads the same
timeouts, retries and once-only re-signing as downloads.
"""

from __future__ import annotations

import io
import re
from collections import OrderedDict
from collections.abc import Callable

import requests

from runner_core.media.downloads import check_status, http_session, transport_failures
from runner_core.media.retry import RetryPolicy, TransientFailure, run_with_retries
from runner_core.media.settings import MediaSettings

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
CACHED_BLOCKS = 4  # demuxers hop between the index (often at the end) and the data
MAX_BLOCK_FACTOR = 8  # sequential reads grow the request size up to this multiple of the base size


class RangeNotSupportedError(Exception):
    """The server ignored `Range` (answered 200): the caller should download the file instead."""


class RangeReader(io.RawIOBase):
    """Reads `url` block by block; a block is fetched once and a few recent blocks are kept."""

    def __init__(
        self,
        url: str,
        *,
        settings: MediaSettings,
        name: str,
        resign: Callable[[], str | None] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        super().__init__()
        self.name_label = name
        self.bytes_fetched = 0
        self.requests = 0
        self._url = url
        self._settings = settings
        self._resign = resign
        self._session = session or http_session()
        self._policy = RetryPolicy.from_settings(settings)
        self._base = settings.range_request_bytes
        self._block = self._base
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._position = 0
        self._last_end = -1
        self.size = self._fetch(0, self._base)  # learns the size and validates the URL up front

    # io.RawIOBase -----------------------------------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        target = memoryview(buffer)
        filled = 0
        while filled < len(target) and self._position < self.size:
            start, block = self._block_at(self._position)
            offset = self._position - start
            count = min(len(target) - filled, len(block) - offset)
            if count <= 0:  # the server sent less than it announced: stop rather than spin
                break
            target[filled : filled + count] = block[offset : offset + count]
            self._position += count
            filled += count
        return filled

    # blocks -----------------------------------------------------------------------------------------------------

    def _block_at(self, position: int) -> tuple[int, bytes]:
        found = self._cached(position)
        if found is None:
            # Sequential reading (iterating, decoding forward) earns bigger requests; a jump starts small again.
            sequential = position == self._last_end
            self._block = min(self._block * 2, self._base * MAX_BLOCK_FACTOR) if sequential else self._base
            self._fetch(position, self._block)
            found = self._cached(position) or (position, b"")  # nothing there: the caller stops reading
        return found

    def _cached(self, position: int) -> tuple[int, bytes] | None:
        for start, block in self._blocks.items():
            if start <= position < start + len(block):
                self._blocks.move_to_end(start)
                return start, block
        return None

    def _fetch(self, start: int, length: int) -> int:
        """Fetch `length` bytes from `start` into the cache; returns the file's total size."""
        end = start + length - 1

        def attempt(url: str) -> int:
            self._url = url
            self.requests += 1
            timeout = self._settings.download_timeout_s
            try:
                # stream=True: a server that ignores Range must not get to send us the whole file
                with self._session.get(
                    url, headers={"Range": f"bytes={start}-{end}"}, timeout=(timeout, timeout), stream=True
                ) as response:
                    return self._receive(response, start)
            except requests.RequestException as exc:
                raise transport_failures(exc) from None

        resign = self._once if self._resign is not None else None
        return run_with_retries(attempt, url=self._url, name=self.name_label, policy=self._policy, resign=resign)

    def _receive(self, response: requests.Response, start: int) -> int:
        if response.status_code == 416:  # past the end: an empty block
            total = _total_from(response.headers.get("Content-Range", ""))
            self._store(start, b"")
            return total if total is not None else start
        check_status(response, name=self.name_label)
        if response.status_code == 200:
            raise RangeNotSupportedError(self.name_label)
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
        if match is None or int(match[1]) != start or match[3] == "*":
            raise TransientFailure("the server answered a different range")
        self._store(start, response.content)
        return int(match[3])

    def _once(self) -> str | None:
        """Re-sign at most once per reader (not once per block): a URL that fails twice is really refused."""
        resign, self._resign = self._resign, None
        if resign is None:
            return None
        return resign()

    def _store(self, start: int, data: bytes) -> None:
        self.bytes_fetched += len(data)
        self._blocks[start] = data
        self._last_end = start + len(data)
        while len(self._blocks) > CACHED_BLOCKS:
            self._blocks.popitem(last=False)


def _total_from(content_range: str) -> int | None:
    match = re.fullmatch(r"bytes \*/(\d+)", content_range)
    return int(match[1]) if match else None
