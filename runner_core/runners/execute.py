"""Per-task execution: solve each task's dependencies in its own scope and call the agent.

Tasks of a batch solve concurrently (bounded by `max_concurrency`) so downloads overlap; synchronous agents run
one at a time in a worker thread, `async def` agents are awaited. A task's exit stack closes right after its agent
returns, so temporary files are gone before anything is saved. One task's failure is recorded on that task only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import logging
import os
import threading
import time
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from runner_core.context import TaskScope
from runner_core.di import call_agent, solve
from runner_core.errors import DeadlineExceededError
from runner_core.models import TaskAgentReturnStruct
from runner_core.runners.state import AgentReturn

if TYPE_CHECKING:
    from runner_core.context import BatchScope
    from runner_core.di import Overrides
    from runner_core.di.dependant import Dependant
    from runner_core.runners.agent import RunnerAgent
    from runner_core.runners.state import TaskState

logger = logging.getLogger("runner_core")

T = TypeVar("T")

# A task starts only if this much time is left before the deadline: saving and proceeding still need to happen.
START_MARGIN_S = 2.0


def too_late_to_start(deadline: float | None) -> bool:
    """Whether less than START_MARGIN_S is left before `deadline` (a `time.monotonic()` value; None: no deadline)."""
    return deadline is not None and time.monotonic() > deadline - START_MARGIN_S


async def solve_and_call_agents(
    states: Sequence[TaskState],
    agent: RunnerAgent,
    *,
    batch: BatchScope,
    max_concurrency: int,
    deadline: float | None = None,
    overrides: Overrides | None = None,
) -> None:
    if holds_whole_files(agent.dependant):
        # Each such task keeps a whole file (a video, an asset) on disk until it ends, and /tmp is small: as many
        # at once as the process downloads to disk at once, however many small-image tasks could run.
        max_concurrency = min(max_concurrency, batch.media.max_large_downloads)
    slots = asyncio.Semaphore(max_concurrency)
    one_sync_agent_at_a_time = asyncio.Lock()

    async def solve_and_call_one(state: TaskState) -> None:
        async with slots:
            if too_late_to_start(deadline):
                state.fail(DeadlineExceededError("deadline"))
                return
            assert state.task is not None
            scope = TaskScope(batch=batch, task=state.task, label_row=state.label_row, storage_item=state.storage_item)
            try:
                async with contextlib.AsyncExitStack() as stack:
                    kwargs = await solve(agent.dependant, stack=stack, scope=scope, cache={}, overrides=overrides)
                    if agent.is_async:
                        value = await call_agent(agent.dependant, kwargs)
                    else:
                        async with one_sync_agent_at_a_time:
                            value = await call_agent(agent.dependant, kwargs, in_thread=True)
                state.result = normalise_return(value)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                # BaseException too: a SystemExit or KeyboardInterrupt raised by an agent would otherwise escape the
                # task and stop the shared event loop, leaving every caller waiting forever.
                logger.warning("task %s failed in %s", state.item.task_uuid, agent.printable_name, exc_info=exc)
                state.fail(exc)

    await asyncio.gather(*(solve_and_call_one(state) for state in states if state.active))


# Dependencies that keep a whole downloaded file for the task's lifetime (by name: importing them here would load
# PyAV on every cold start).
WHOLE_FILE_DEPENDENCIES = frozenset(
    f"runner_core.dependencies.{name}" for name in ("dep_asset", "dep_video_iterator", "dep_video_sampler")
)


def holds_whole_files(dependant: Dependant) -> bool:
    """Whether any dependency in the tree downloads a whole file that lives as long as the task."""
    call = dependant.call
    if f"{getattr(call, '__module__', '')}.{getattr(call, '__qualname__', '')}" in WHOLE_FILE_DEPENDENCIES:
        return True
    return any(holds_whole_files(sub) for sub in dependant.dependencies)


def normalise_return(value: Any) -> AgentReturn:
    """A pathway (name, uuid, None) or a `TaskAgentReturnStruct` (also one shaped like encord-agents')."""
    if isinstance(value, TaskAgentReturnStruct) or all(
        hasattr(value, name) for name in ("pathway", "label_row", "label_row_priority")
    ):
        return AgentReturn(pathway=value.pathway, label_row=value.label_row, priority=value.label_row_priority)
    return AgentReturn(pathway=value)


class _BackgroundLoop:
    """One event loop per process, in a daemon thread, shared by every batch.

    A fresh `asyncio.run` per batch would also create (and tear down) an event loop and a thread pool each time,
    which costs milliseconds per message; this loop and its worker threads stay warm, and batches from several
    caller threads run on it side by side.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            # A forked child inherits the loop object but not its thread: it needs its own. So does a process
            # whose loop thread died.
            if self._loop is None or self._loop.is_closed() or self._pid != os.getpid() or not self.alive():
                loop = asyncio.new_event_loop()
                loop.set_default_executor(
                    ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="runner-core")
                )
                started = threading.Event()
                thread = threading.Thread(
                    target=self._serve, args=(loop, started), name="runner-core-loop", daemon=True
                )
                thread.start()
                started.wait()
                self._loop, self._thread, self._pid = loop, thread, os.getpid()
            return self._loop

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop, started: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(started.set)
        loop.run_forever()


_background = _BackgroundLoop()

# Worker threads for synchronous dependencies and agents (downloads overlap across tasks and batches): as many as
# the default task concurrency, so a batch of small images is fetched in one round. Threads start on demand.
WORKER_THREADS = 64


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion from synchronous code (also from a thread that already runs an event loop)."""
    loop = _background.loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:  # called from an async agent on the shared loop itself: no way to block here
        raise RuntimeError("run_coroutine cannot be called from the runner's own event loop")
    future = _start_in_caller_context(coro, loop)
    while True:
        try:
            return future.result(timeout=_LIVENESS_CHECK_S)
        except concurrent.futures.TimeoutError:
            if future.done():  # the coroutine itself raised TimeoutError
                raise
            if not _background.alive():  # never wait forever on a loop that is gone
                future.cancel()
                raise RuntimeError("the runner's event loop stopped") from None


_LIVENESS_CHECK_S = 1.0


def _start_in_caller_context(
    coro: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop
) -> concurrent.futures.Future[T]:
    """`asyncio.run_coroutine_threadsafe`, except that the task runs in a copy of the caller's context (the stdlib
    one would use the loop thread's), so context variables such as the batch's request counter reach the agents."""
    context = contextvars.copy_context()
    result: concurrent.futures.Future[T] = concurrent.futures.Future()

    def start() -> None:
        if not result.set_running_or_notify_cancel():
            coro.close()
            return
        task = loop.create_task(coro, context=context)
        task.add_done_callback(lambda done: _copy_outcome(done, result))

    loop.call_soon_threadsafe(start)
    return result


def _copy_outcome(task: asyncio.Future[T], result: concurrent.futures.Future[T]) -> None:
    if task.cancelled():
        result.set_exception(concurrent.futures.CancelledError())
    elif (exc := task.exception()) is not None:
        result.set_exception(exc)
    else:
        result.set_result(task.result())
