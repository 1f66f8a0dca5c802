"""run_parallel: the calls overlap, every call finishes, the first error is re-raised, the context follows."""

from __future__ import annotations

import contextvars
import threading

import pytest

from runner_core.runners.parallel import run_parallel

_var: contextvars.ContextVar[str] = contextvars.ContextVar("_var", default="unset")


def test_calls_overlap_and_none_is_skipped() -> None:
    both = threading.Barrier(2, timeout=5)  # each call waits for the other: only passes if they run side by side
    seen: list[str] = []

    def meet(name: str) -> None:
        both.wait()
        seen.append(name)

    run_parallel(lambda: meet("a"), None, lambda: meet("b"))
    assert sorted(seen) == ["a", "b"]


def test_the_first_error_is_raised_after_every_call_finished() -> None:
    finished = threading.Event()

    def fails() -> None:
        raise ValueError("first")

    def slow() -> None:
        threading.Event().wait(0.05)
        finished.set()

    with pytest.raises(ValueError, match="first"):
        run_parallel(fails, slow)
    assert finished.is_set()


def test_context_variables_reach_the_worker_threads() -> None:
    _var.set("caller")
    seen: list[str] = []
    run_parallel(lambda: seen.append(_var.get()), lambda: seen.append(_var.get()))
    assert seen == ["caller", "caller"]


def test_nothing_to_run() -> None:
    run_parallel(None, None)
