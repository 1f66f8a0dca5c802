"""What every dead-letter source offers, and the pacing and report of a redrive, shared by SQS and Pub/Sub."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from deploy.ops.letters import DeadLetter


@dataclass(slots=True)
class RedriveReport:
    """How a redrive went. `failed` messages stay in the dead-letter queue (nothing is deleted before it is sent)."""

    moved: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"moved": self.moved, "failed": self.failed, "errors": self.errors[:20]}


Progress = Callable[[RedriveReport], None]


class DeadLetterSource(Protocol):
    """A dead-letter queue (SQS) or dead-letter subscription (Pub/Sub) and where its messages go back to."""

    @property
    def description(self) -> str: ...

    def approximate_count(self) -> int | None:
        """Messages waiting, when the transport can say without consuming (None: it cannot)."""
        ...

    def peek(self, *, limit: int) -> list[DeadLetter]:
        """Up to `limit` messages, left in place (they are visible again when this returns)."""
        ...

    def redrive(
        self, *, limit: int | None, batch_size: int, pacer: Pacer, keep_history: bool, progress: Progress
    ) -> RedriveReport:
        """Put messages back on the work queue / topic: each is stored there before it leaves the dead letters."""
        ...


class Pacer:
    """At most `per_second` messages a second (None: no limit): a redrive must not flood a consumer that is
    barely back on its feet, nor Encord's rate limits. SQS's own message-move task has the same knob."""

    def __init__(self, per_second: float | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_second is not None and per_second <= 0:
            raise ValueError("per_second must be positive")
        self._per_second = per_second
        self._clock = clock
        self._started = clock()
        self._count = 0

    def batch_size(self, wanted: int) -> int:
        """A batch no larger than one second's allowance (so pacing stays smooth), at least one message."""
        if self._per_second is None:
            return wanted
        return max(1, min(wanted, int(self._per_second)))

    def wait_after(self, count: int) -> None:
        self._count += count
        if self._per_second is None:
            return
        due = self._started + self._count / self._per_second
        delay = due - self._clock()
        if delay > 0:
            time.sleep(delay)
