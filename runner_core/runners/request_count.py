"""Count the Encord SDK requests a batch makes, for the per-task outcome log line.

The SDK asks `RequestsSettings.trace_id_provider` for a trace id exactly once per request it sends (the v1 querier
and the v2 API client alike), which makes it the one hook that sees every SDK request without patching the SDK.
A counting provider is installed on the runner's client (on a copy of its settings, so no other client changes);
it counts only while a batch has a counter in its context, so concurrent batches of one process never mix counts.

What is counted: every SDK request made during the batch, by the pipeline, the dependencies and the agent alike.
Not counted: media downloads (plain HTTP to signed URLs) and the SDK's transport-level retries of one request
(they reuse its headers). Resolving the project on first use happens before the batch and is not counted either.
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from uuid import uuid4

if TYPE_CHECKING:
    from encord.user_client import EncordUserClient

_current: contextvars.ContextVar[RequestCounter | None] = contextvars.ContextVar(
    "runner_core_request_counter", default=None
)
_install_lock = threading.Lock()
logger = logging.getLogger("runner_core")


class RequestCounter:
    """The number of SDK requests made so far in one batch (thread-safe: a batch's requests run on many threads)."""

    __slots__ = ("_count", "_lock")

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self._count += 1

    @property
    def count(self) -> int:
        return self._count


class _CountingTraceIds:
    """A trace-id provider that counts the request, then answers as the provider it wraps (or as the SDK would)."""

    def __init__(self, wrapped: Callable[[], str] | None) -> None:
        self.wrapped = wrapped

    def __call__(self) -> str:
        counter = _current.get()
        if counter is not None:
            counter.add()
        if self.wrapped is not None:
            return self.wrapped()
        return f"{uuid4().hex}/1;o=1"  # the SDK's own default: a random trace id, sampled


def instrument(client: EncordUserClient) -> bool:
    """Install the counting provider on `client` (once). False when the SDK does not have the expected layout."""
    try:
        return _instrument(client)
    except Exception:  # a counting hook must never cost a batch: without it the count is just unknown
        logger.debug("cannot count Encord requests on this client", exc_info=True)
        return False


def _instrument(client: EncordUserClient) -> bool:
    user_config: Any = getattr(client, "_config", None)
    config: Any = getattr(user_config, "config", None)
    settings: Any = getattr(config, "requests_settings", None)
    if settings is None or not dataclasses.is_dataclass(settings) or not hasattr(settings, "trace_id_provider"):
        return False
    with _install_lock:
        settings = config.requests_settings
        if isinstance(settings.trace_id_provider, _CountingTraceIds):
            return True
        # A copy: the client may share the SDK's module-level default settings with every other client.
        counting = dataclasses.replace(settings, trace_id_provider=_CountingTraceIds(settings.trace_id_provider))
        config.requests_settings = counting
        if getattr(user_config, "requests_settings", None) is settings:
            user_config.requests_settings = counting
    return True


@contextmanager
def count_requests(client: EncordUserClient) -> Iterator[RequestCounter | None]:
    """Count the SDK requests made in this context (and in threads and tasks started with a copy of it).

    Yields None when the client could not be instrumented (the count is then unknown, not zero).
    """
    if not instrument(client):
        yield None
        return
    counter = RequestCounter()
    token = _current.set(counter)
    try:
        yield counter
    finally:
        _current.reset(token)


__all__ = ["RequestCounter", "count_requests", "instrument"]
