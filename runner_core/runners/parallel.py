"""Run a batch's independent Encord requests side by side.

Re-fetching the tasks and listing their label rows need nothing from each other, nor do label initialisation and
storage items, nor label saves and priorities: overlapping them keeps the request count and cuts the round trips.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="runner-core-io")
        return _executor


def run_parallel(*calls: Callable[[], None] | None) -> None:
    """Run the given calls concurrently (the first on this thread) and wait for all; re-raise the first error."""
    todo = [call for call in calls if call is not None]
    if not todo:
        return
    # Each call runs in a copy of the caller's context, so context variables (the batch's request counter) follow.
    futures: list[Future[None]] = [_pool().submit(contextvars.copy_context().run, call) for call in todo[1:]]
    error: BaseException | None = None
    try:
        todo[0]()
    except BaseException as exc:
        error = exc
    for future in futures:
        failure = future.exception()
        if error is None:
            error = failure
    if error is not None:
        raise error
