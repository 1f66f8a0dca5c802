"""execute: the start margin, normalising an agent's return, and the shared event loop's bridge (pure logic)."""

from __future__ import annotations

import asyncio
import contextvars
import time
from uuid import uuid4

import pytest

from runner_core.models import TaskAgentReturnStruct
from runner_core.runners.execute import START_MARGIN_S, normalise_return, run_coroutine, too_late_to_start

_var: contextvars.ContextVar[str] = contextvars.ContextVar("_var", default="unset")


def test_too_late_to_start_keeps_the_margin() -> None:
    now = time.monotonic()
    assert not too_late_to_start(None)
    assert not too_late_to_start(now + START_MARGIN_S + 5)
    assert too_late_to_start(now + START_MARGIN_S / 2)


def test_normalise_return_accepts_a_pathway_or_a_struct() -> None:
    pathway = uuid4()
    assert normalise_return(pathway).pathway == pathway
    assert normalise_return(None).pathway is None
    returned = normalise_return(TaskAgentReturnStruct(pathway="annotate", label_row_priority=0.5))
    assert (returned.pathway, returned.priority, returned.label_row) == ("annotate", 0.5, None)


def test_run_coroutine_runs_on_the_shared_loop_in_the_callers_context() -> None:
    async def read() -> tuple[str, bool]:
        await asyncio.sleep(0)
        return _var.get(), asyncio.get_running_loop() is not None

    _var.set("caller")
    assert run_coroutine(read()) == ("caller", True)


def test_run_coroutine_re_raises_the_coroutines_error() -> None:
    async def fails() -> None:
        raise TimeoutError("inner")

    with pytest.raises(TimeoutError, match="inner"):
        run_coroutine(fails())


def test_run_coroutine_refuses_to_block_its_own_loop() -> None:
    async def nested() -> None:
        inner = asyncio.sleep(0)
        try:
            run_coroutine(inner)
        finally:
            inner.close()

    with pytest.raises(RuntimeError, match="cannot be called from the runner's own event loop"):
        run_coroutine(nested())
