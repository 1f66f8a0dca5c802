"""Downloads of signed URLs, to a file or into memory: timeouts, retries with backoff, resume, a size cap, re-signing.

Small files (images, image-group members) are fetched into memory and decoded from there: no temp dir, no file
system calls per task. Files written to disk (`dep_asset`, whole videos) can be large, so how many of those run at
once in a process is bounded by `MediaSettings.max_large_downloads`; small in-memory fetches are not bounded here
(the batch's task concurrency bounds them).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import requests

from runner_core.media.errors import AssetRejectedError, AssetTooLargeError
from runner_core.media.retry import RetryPolicy, TransientFailure, UrlRejected, parse_retry_after, run_with_retries
from runner_core.media.settings import MediaSettings

if TYPE_CHECKING:
    from requests.sessions import _Cert, _Settings, _TextMapping, _Verify

CHUNK_BYTES = 1 << 16
# Statuses that mean "this URL is not (or no longer) valid": expired or mis-signed URLs answer 400/401/403.
REJECTED_STATUSES = frozenset({400, 401, 403})
TRANSIENT_STATUSES = frozenset({408, 425, 429})

_local = threading.local()


def http_session() -> requests.Session:
    """One session per thread: keeps connections alive across a worker's downloads without sharing a pool."""
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = MediaSession()
        _local.session = session
    return session


def _no_credentials(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


class MediaSession(requests.Session):
    """A `requests.Session` for signed media URLs that reads the environment once per origin, not per request.

    requests re-reads proxy and CA settings from the environment on every call (a scan of `os.environ`, `no_proxy`
    matching) and looks for a netrc entry: a fifth of the consumer's CPU for a batch of small images. The
    environment is read on the first request to an origin, as requests itself would, and reused. Signed URLs carry
    their own credentials, so a netrc entry must not add an Authorization header (some stores reject it).
    """

    def __init__(self) -> None:
        super().__init__()
        self.auth = _no_credentials  # set: requests consults netrc only when a session has no auth
        self._environment: dict[tuple[str, bool | None], _Settings] = {}

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: _TextMapping | None,
        stream: bool | None,
        verify: _Verify | None,
        cert: _Cert | None,
    ) -> _Settings:
        if proxies or verify is not None or cert is not None or not isinstance(url, str):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)  # per-call settings
        scheme, _, rest = url.partition("://")
        key = (f"{scheme}://{rest.split('/', 1)[0]}", stream)
        cached = self._environment.get(key)
        if cached is None:
            cached = super().merge_environment_settings(url, {}, stream, None, None)
            self._environment[key] = cached
        settings = cached.copy()
        settings["proxies"] = dict(cached["proxies"])  # requests may change it per call
        return settings


def check_status(response: requests.Response, *, name: str) -> None:
    """Sort a media response: rejected URL (re-sign), transient (retry), other failure (permanent), or fine."""
    status = response.status_code
    if status in REJECTED_STATUSES:
        raise UrlRejected(status)
    if status in TRANSIENT_STATUSES or status >= 500:
        raise TransientFailure(f"HTTP {status}", retry_after=parse_retry_after(response.headers.get("Retry-After")))
    if status not in (200, 206):
        raise AssetRejectedError(f"{name}: HTTP {status}")


def transport_failures(exc: requests.RequestException) -> TransientFailure:
    """The retry signal for a requests-level failure (timeouts, resets, truncated bodies)."""
    if isinstance(exc, requests.Timeout):
        return TransientFailure(f"timed out ({type(exc).__name__})")
    return TransientFailure(f"connection failed ({type(exc).__name__})")


def download(
    url: str,
    dest: Path,
    *,
    settings: MediaSettings,
    name: str,
    resign: Callable[[], str | None] | None = None,
    session: requests.Session | None = None,
) -> int:
    """Stream `url` into `dest` and return the number of bytes written.

    Retries 429/5xx/resets/timeouts with backoff (resuming with a Range request when the server allows it),
    re-signs the URL once through `resign` when the server rejects it, and stops with `AssetTooLargeError` as
    soon as the asset is known to exceed `settings.download_max_bytes`. `name` labels errors and logs; the URL,
    which carries a signature, never appears in them. At most `settings.max_large_downloads` run at once.
    """
    with _large_download_slot(settings), dest.open("wb") as file:
        return _transfer(url, file, settings=settings, name=name, resign=resign, session=session)


def fetch_bytes(
    url: str,
    *,
    settings: MediaSettings,
    name: str,
    resign: Callable[[], str | None] | None = None,
    session: requests.Session | None = None,
) -> bytes:
    """`download`, into memory: for files known to be small (see `MediaSettings.in_memory_max_bytes`)."""
    buffer = io.BytesIO()
    _transfer(url, buffer, settings=settings, name=name, resign=resign, session=session)
    return buffer.getvalue()


def _transfer(
    url: str,
    sink: BinaryIO,
    *,
    settings: MediaSettings,
    name: str,
    resign: Callable[[], str | None] | None,
    session: requests.Session | None,
) -> int:
    transfer = _Transfer(sink=sink, settings=settings, name=name, session=session or http_session())
    return run_with_retries(
        transfer.attempt, url=url, name=name, policy=RetryPolicy.from_settings(settings), resign=resign
    )


_large_slots: dict[int, threading.BoundedSemaphore] = {}
_large_slots_lock = threading.Lock()


@contextmanager
def _large_download_slot(settings: MediaSettings) -> Iterator[None]:
    """One of the process's `max_large_downloads` slots for a download to disk (one semaphore per bound)."""
    with _large_slots_lock:
        slots = _large_slots.setdefault(
            settings.max_large_downloads, threading.BoundedSemaphore(settings.max_large_downloads)
        )
    with slots:
        yield


class _Transfer:
    """The state one download keeps across attempts, so that a retry can resume where the last one broke."""

    def __init__(self, *, sink: BinaryIO, settings: MediaSettings, name: str, session: requests.Session) -> None:
        self.settings = settings
        self.name = name
        self.session = session
        self.file = sink
        self.written = 0
        self.resumable = False

    def attempt(self, url: str) -> int:
        timeout = self.settings.download_timeout_s
        headers = {"Range": f"bytes={self.written}-"} if self.written and self.resumable else {}
        try:
            with self.session.get(url, stream=True, timeout=(timeout, timeout), headers=headers) as response:
                check_status(response, name=self.name)
                self._receive(response)
        except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise transport_failures(exc) from None
        return self.written

    def _restart(self) -> None:
        self.file.seek(0)
        self.file.truncate()
        self.written = 0

    def _receive(self, response: requests.Response) -> None:
        if response.status_code == 200:  # a full body: start over even if this was meant to be a resume
            self._restart()
        elif not response.headers.get("Content-Range", "").startswith(f"bytes {self.written}-"):
            self._restart()
            self.resumable = False
            raise TransientFailure("the server resumed at the wrong offset")
        self.resumable = response.headers.get("Accept-Ranges", "").lower() == "bytes" or response.status_code == 206
        limit = self.settings.download_max_bytes
        announced = response.headers.get("Content-Length")
        if announced is not None and announced.isdigit() and self.written + int(announced) > limit:
            raise AssetTooLargeError(name=self.name, size=self.written + int(announced), limit=limit)
        for chunk in response.iter_content(chunk_size=CHUNK_BYTES):
            self.written += len(chunk)
            if self.written > limit:
                raise AssetTooLargeError(name=self.name, size=self.written, limit=limit)
            self.file.write(chunk)
        self.file.flush()
