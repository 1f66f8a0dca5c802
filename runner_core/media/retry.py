"""One retry loop for every remote media read (file downloads and remote video decoding).

Hand-written rather than urllib3's `Retry`: that only covers failures before the response body starts, while a
download can also break mid-stream, and FFmpeg's HTTP reads do not go through urllib3 at all.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from runner_core.media.errors import AssetRejectedError, DownloadError
from runner_core.media.settings import MediaSettings

T = TypeVar("T")
logger = logging.getLogger(__name__)

MAX_BACKOFF_S = 8.0
MAX_RETRY_AFTER_S = 30.0


class TransientFailure(Exception):
    """The attempt failed in a way that may pass (429, 5xx, reset, timeout)."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class UrlRejected(Exception):
    """The server refused the URL itself (401/403/400): typically a signed URL that expired."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int
    backoff_s: float

    @classmethod
    def from_settings(cls, settings: MediaSettings) -> RetryPolicy:
        return cls(retries=settings.download_retries, backoff_s=settings.download_backoff_s)

    def delay(self, failures: int, retry_after: float | None) -> float:
        """Exponential backoff with full jitter; a server's Retry-After wins when it asks for longer."""
        ceiling = min(MAX_BACKOFF_S, self.backoff_s * 2 ** (failures - 1))
        delay = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER_S))
        return delay


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header; the HTTP-date form is ignored (backoff applies instead)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def run_with_retries(
    attempt: Callable[[str], T],
    *,
    url: str,
    name: str,
    policy: RetryPolicy,
    resign: Callable[[], str | None] | None = None,
) -> T:
    """Call `attempt(url)` until it succeeds, retrying transient failures and re-signing a rejected URL once."""
    failures = 0
    resigned = False
    while True:
        try:
            return attempt(url)
        except UrlRejected as exc:
            if resign is None or resigned:
                raise AssetRejectedError(
                    f"{name}: the server refused the signed URL ({exc})"
                    + (" even after re-signing it" if resigned else "")
                ) from None
            logger.info("media: %s: signed URL rejected (%s); re-signing once", name, exc)
            fresh = resign()
            if fresh is None:
                raise AssetRejectedError(f"{name}: re-signing the URL returned no URL") from None
            url, resigned = fresh, True
        except TransientFailure as exc:
            failures += 1
            if failures > policy.retries:
                raise DownloadError(f"{name}: {exc.reason} (gave up after {failures} attempts)") from None
            delay = policy.delay(failures, exc.retry_after)
            logger.info("media: %s: %s; retry %d/%d in %.2f s", name, exc.reason, failures, policy.retries, delay)
            time.sleep(delay)
