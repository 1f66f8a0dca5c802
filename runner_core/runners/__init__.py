"""Runners: the decorator API (base, queue, sequential) on top of one batch pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner_core.runners.base import RunnerBase
from runner_core.runners.queue import QueueRunner

if TYPE_CHECKING:
    from runner_core.runners.sequential import Runner, SequentialRunner

__all__ = ["QueueRunner", "Runner", "RunnerBase", "SequentialRunner"]


def __getattr__(name: str) -> Any:
    # The SequentialRunner (a CLI with progress bars) loads on first access: a queue worker never pays for it.
    if name in ("Runner", "SequentialRunner"):
        from runner_core.runners import sequential

        return getattr(sequential, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
