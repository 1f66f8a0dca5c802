"""Background delivery threads, shared by the SQS poller and the Pub/Sub bridge.

Both run N daemon threads that loop until stopped, survive transient errors the way the managed services do, and
keep a short, thread-safe record of what went wrong for the run's summary.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Self

MAX_RECORDED_ERRORS = 20  # enough to see what went wrong without a fault storm filling memory


@dataclass(slots=True)
class WorkerStats:
    """Counters updated from several threads; subclasses add theirs and update them under `lock`."""

    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note_error(self, error: str) -> None:
        with self.lock:
            self._keep(error)

    def _keep(self, error: str) -> None:
        """Record `error` (caller holds `lock`)."""
        if len(self.errors) < MAX_RECORDED_ERRORS:
            self.errors.append(error[:300])


class WorkerThreads(ABC):
    """`count` daemon threads calling `step()` until `stop()`; a context manager that starts and stops them.

    `step` returns whether it found work, so idle threads back off briefly instead of spinning. An exception is
    recorded in `stats` and retried after a pause: delivery must outlive a hiccup of an emulator.
    """

    def __init__(self, *, name: str, count: int, stats: WorkerStats) -> None:
        self._name = name
        self._count = count
        self._stats = stats
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _loop(self, step: Callable[[], bool]) -> None:
        while not self._stop.is_set():
            try:
                if not step():
                    self._stop.wait(0.05)
            except Exception as exc:
                self._stats.note_error(f"{self._name}: {type(exc).__name__}: {exc}")
                self._stop.wait(0.2)

    @abstractmethod
    def _make_step(self, index: int) -> Callable[[], bool]:
        """What thread `index` does once per turn (its own client, invoker or HTTP session bound in)."""

    def start(self) -> Self:
        for index in range(self._count):
            thread = threading.Thread(
                target=self._loop, args=(self._make_step(index),), name=f"{self._name}-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)
        self._threads.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
