"""`solve` and `call_agent`: per-task resolution, caching, concurrency, teardown, overrides and errors.

Encord objects are replaced by plain stand-ins in a `TaskScope`: the solver only hands them through.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Annotated, Any, TypeVar, cast

import pytest
from encord.exceptions import UnknownException
from encord.objects import LabelRowV2
from encord.project import Project
from encord.storage import StorageItem
from encord.user_client import EncordUserClient
from encord.workflow.stages.agent import AgentStage, AgentTask

from runner_core.context import BatchScope, TaskScope
from runner_core.di import (
    Dependant,
    DependencyDefinitionError,
    DependencyResolutionError,
    DependencyTeardownError,
    Depends,
    Requirement,
    analyze,
    call_agent,
    solve,
)

T = TypeVar("T")
EVENT_TIMEOUT_S = 5.0  # only reached when the behaviour under test is broken


# Module level: with `from __future__ import annotations`, `Annotated[..., Depends(f)]` is evaluated in the module's
# globals, so `f` must be reachable from there (the same holds for users' agents).
def base(item: StorageItem) -> str:
    cast(Calls, item).hit("base")
    return "base"


def left(b: Annotated[str, Depends(base)], item: StorageItem) -> str:
    cast(Calls, item).hit("left")
    return f"left({b})"


def right(b: str = Depends(base)) -> str:
    return f"right({b})"


def shared_agent(x: Annotated[str, Depends(left)], y: Annotated[str, Depends(right)], z: str = Depends(base)) -> str:
    return " ".join((x, y, z))


async def fetch(task: AgentTask) -> str:
    await asyncio.sleep(0)
    return f"fetched {task}"


async def async_agent(value: Annotated[str, Depends(fetch)]) -> str:
    await asyncio.sleep(0)
    return value.upper()


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


async def solve_and_call(
    agent: Callable[..., Any],
    values: dict[type, object] | None = None,
    **options: Any,
) -> Any:
    dependant = analyze(agent, agent=True)
    if values:
        options["scope"] = _scope_holding(values)
    async with contextlib.AsyncExitStack() as stack:
        kwargs = await solve(dependant, stack=stack, **options)
        return await call_agent(dependant, kwargs)


def _scope_holding(values: dict[type, object]) -> TaskScope:
    """Stand-ins put where the runner puts the real objects (the solver only hands them through)."""
    get = cast(Any, values.get)
    batch = BatchScope(
        project=get(Project), stage=get(AgentStage), client=get(EncordUserClient), media=get(object), tasks=[]
    )
    return TaskScope(batch=batch, task=get(AgentTask), label_row=get(LabelRowV2), storage_item=get(StorageItem))


class Calls:
    """Counts calls per name, from any thread."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.log: list[str] = []
        self._lock = threading.Lock()

    def hit(self, name: str) -> None:
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + 1
            self.log.append(name)


def test_flat_injection_from_values() -> None:
    task, label_row = object(), object()

    def agent(task: AgentTask, label_row: LabelRowV2) -> tuple[object, object]:
        return task, label_row

    assert run(solve_and_call(agent, {AgentTask: task, LabelRowV2: label_row})) == (task, label_row)


def test_injection_from_a_task_scope() -> None:
    project, stage, client, task, label_row, item = (object() for _ in range(6))
    batch = BatchScope(
        project=cast(Any, project),
        stage=cast(Any, stage),
        client=cast(Any, client),
        media=cast(Any, None),
        tasks=[],
    )
    scope = TaskScope(batch=batch, task=cast(Any, task), label_row=cast(Any, label_row), storage_item=cast(Any, item))

    def agent(s: TaskScope, t: AgentTask, st: AgentStage, lr: LabelRowV2, si: StorageItem) -> tuple[object, ...]:
        return s, t, st, lr, si

    assert run(solve_and_call(agent, scope=scope)) == (scope, task, stage, label_row, item)


def test_nested_and_shared_dependencies_run_once_per_solve() -> None:
    calls = Calls()  # handed in as the "storage item" so the module-level dependencies can count their calls
    result = run(solve_and_call(shared_agent, {StorageItem: calls}))
    assert result == "left(base) right(base) base"
    assert calls.counts == {"base": 1, "left": 1}
    # A second solve (the next task, or a retry) starts with a fresh cache.
    run(solve_and_call(shared_agent, {StorageItem: calls}))
    assert calls.counts == {"base": 2, "left": 2}


def test_use_cache_false_gets_a_fresh_value() -> None:
    calls = Calls()

    def counter() -> int:
        calls.hit("counter")
        return calls.counts["counter"]

    def agent(a: int = Depends(counter), b: int = Depends(counter, use_cache=False), c: int = Depends(counter)) -> Any:
        return a, b, c

    assert run(solve_and_call(agent)) == (1, 2, 1)


def test_missing_value_is_a_resolution_error_and_optional_gets_none() -> None:
    def optional_agent(label_row: LabelRowV2 | None) -> object:
        return label_row

    assert run(solve_and_call(optional_agent)) is None

    def needs_row(label_row: LabelRowV2) -> object:
        return label_row

    def agent(row: object = Depends(needs_row)) -> object:
        return row

    with pytest.raises(DependencyResolutionError, match="needs a LabelRowV2 for parameter 'label_row'") as caught:
        run(solve_and_call(agent))
    assert caught.value.missing is Requirement.LABEL_ROW
    assert caught.value.path == ("row", "label_row")


def test_generator_teardown_runs_after_the_agent_on_success() -> None:
    calls = Calls()

    def sync_resource() -> Iterator[str]:
        calls.hit("sync-setup")
        yield "sync"
        calls.hit("sync-teardown")

    async def async_resource() -> AsyncIterator[str]:
        calls.hit("async-setup")
        yield "async"
        calls.hit("async-teardown")

    def agent(a: str = Depends(sync_resource), b: str = Depends(async_resource)) -> str:
        calls.hit("agent")
        return a + b

    assert run(solve_and_call(agent)) == "syncasync"
    assert calls.log.index("agent") < calls.log.index("sync-teardown")
    assert calls.log.index("agent") < calls.log.index("async-teardown")
    assert calls.counts["sync-teardown"] == calls.counts["async-teardown"] == 1


def test_generator_teardown_runs_when_the_agent_raises_and_cannot_swallow_it() -> None:
    seen: list[BaseException | None] = []

    def swallowing_resource() -> Iterator[str]:
        try:
            yield "sync"
        except Exception as exc:  # tries to hide the agent's error; the solver must not let it
            seen.append(exc)

    async def async_resource() -> AsyncIterator[str]:
        try:
            yield "async"
        finally:
            seen.append(None)

    def agent(a: str = Depends(swallowing_resource), b: str = Depends(async_resource)) -> str:
        raise ValueError("agent failed")

    with pytest.raises(ValueError, match="agent failed"):
        run(solve_and_call(agent))
    assert len(seen) == 2
    # Both teardowns ran; the sync one saw the agent's exception thrown in at its `yield`.
    assert None in seen
    assert any(isinstance(e, ValueError) for e in seen)


def test_teardown_failure_is_a_teardown_error_with_cause() -> None:
    def resource() -> Iterator[str]:
        yield "x"
        raise OSError("could not delete temp dir")

    def agent(a: str = Depends(resource)) -> str:
        return a

    with pytest.raises(DependencyTeardownError, match="could not delete temp dir") as caught:
        run(solve_and_call(agent))
    assert isinstance(caught.value.__cause__, OSError)
    assert caught.value.dependency.endswith("resource")


def test_dependency_failure_keeps_the_original_cause() -> None:
    def flaky_fetch(task: AgentTask) -> str:
        raise UnknownException("upstream timed out")

    def crop(fetched: str = Depends(flaky_fetch)) -> str:
        return fetched

    def agent(image: str = Depends(crop)) -> str:
        return image

    with pytest.raises(DependencyResolutionError) as caught:
        run(solve_and_call(agent, {AgentTask: "task"}))
    error = caught.value
    assert isinstance(error.__cause__, UnknownException)
    assert error.original is error.__cause__
    assert error.path == ("image", "fetched")
    assert error.dependency.endswith("flaky_fetch")
    assert "upstream timed out" in str(error)


def test_agent_exception_is_not_wrapped() -> None:
    def agent(task: AgentTask) -> None:
        raise KeyError("agent bug")

    with pytest.raises(KeyError):
        run(solve_and_call(agent, {AgentTask: "task"}))


def test_teardown_of_entered_generators_runs_when_a_later_dependency_fails() -> None:
    calls = Calls()

    def resource() -> Iterator[str]:
        try:
            yield "r"
        finally:  # the failure is thrown in at `yield`, as for an agent's exception
            calls.hit("teardown")

    def failing(r: str = Depends(resource)) -> str:
        raise RuntimeError("boom")

    def agent(r: str = Depends(resource), f: str = Depends(failing)) -> None:
        calls.hit("agent")

    with pytest.raises(DependencyResolutionError):
        run(solve_and_call(agent))
    assert calls.counts == {"teardown": 1}


def test_async_agent_and_async_dependencies() -> None:
    assert run(solve_and_call(async_agent, {AgentTask: "t1"})) == "FETCHED T1"


def test_independent_async_dependencies_overlap() -> None:
    """Each dependency waits for the other to have started: run one after the other, they would time out."""

    async def scenario() -> Any:
        first_started, second_started = asyncio.Event(), asyncio.Event()

        async def first() -> str:
            first_started.set()
            await asyncio.wait_for(second_started.wait(), EVENT_TIMEOUT_S)
            return "first"

        async def second() -> str:
            second_started.set()
            await asyncio.wait_for(first_started.wait(), EVENT_TIMEOUT_S)
            return "second"

        async def agent(a: str = Depends(first), b: str = Depends(second)) -> tuple[str, str]:
            return a, b

        return await solve_and_call(agent)

    assert run(scenario()) == ("first", "second")


def test_concurrent_siblings_sharing_a_dependency_run_it_once() -> None:
    calls = Calls()

    async def scenario() -> Any:
        release = asyncio.Event()

        async def shared() -> str:
            calls.hit("shared")
            await release.wait()  # keep it in flight while the second sibling asks for it
            return "s"

        async def one(s: str = Depends(shared)) -> str:
            return "1" + s

        async def two(s: str = Depends(shared)) -> str:
            return "2" + s

        async def agent(a: str = Depends(one), b: str = Depends(two)) -> str:
            return a + b

        solving = asyncio.ensure_future(solve_and_call(agent))
        for _ in range(10):  # let both siblings reach `shared`
            await asyncio.sleep(0)
        release.set()
        return await solving

    assert run(scenario()) == "1s2s"
    assert calls.counts == {"shared": 1}


def test_failure_of_a_shared_dependency_reaches_every_waiter_once() -> None:
    async def shared() -> str:
        await asyncio.sleep(0)
        raise ConnectionError("reset")

    async def one(s: str = Depends(shared)) -> str:
        return s

    async def two(s: str = Depends(shared)) -> str:
        return s

    async def agent(a: str = Depends(one), b: str = Depends(two)) -> None: ...

    with pytest.raises(DependencyResolutionError) as caught:
        run(solve_and_call(agent))
    assert isinstance(caught.value.__cause__, ConnectionError)


def test_sync_dependencies_run_off_the_event_loop_thread() -> None:
    threads: dict[str, int] = {}

    def blocking_download() -> Iterator[str]:
        threads["setup"] = threading.get_ident()
        yield "file"
        threads["teardown"] = threading.get_ident()

    def decode(path: str = Depends(blocking_download)) -> str:
        threads["decode"] = threading.get_ident()
        return path

    async def agent(image: str = Depends(decode)) -> str:
        threads["loop"] = threading.get_ident()
        return image

    run(solve_and_call(agent))
    assert threads["loop"] not in (threads["setup"], threads["teardown"], threads["decode"])


def test_sync_dependencies_of_two_tasks_overlap() -> None:
    """Two tasks solved at once: each blocking dependency waits (in its thread) until both are inside."""
    both_inside = threading.Barrier(2, timeout=EVENT_TIMEOUT_S)

    def blocking_download(task: AgentTask) -> str:
        both_inside.wait()
        return f"downloaded {task}"

    def agent(image: str = Depends(blocking_download)) -> str:
        return image

    async def scenario() -> list[Any]:
        return list(
            await asyncio.gather(
                solve_and_call(agent, {AgentTask: "a"}),
                solve_and_call(agent, {AgentTask: "b"}),
            )
        )

    assert run(scenario()) == ["downloaded a", "downloaded b"]


def test_sync_siblings_of_one_task_keep_their_order() -> None:
    calls = Calls()

    def first() -> None:
        calls.hit("first")

    def second() -> None:
        calls.hit("second")

    def third() -> None:
        calls.hit("third")

    def agent(c: None = Depends(third), a: None = Depends(first), b: None = Depends(second)) -> None: ...

    run(solve_and_call(agent))
    assert calls.log == ["third", "first", "second"]


def test_overrides_replace_dependencies_without_encord() -> None:
    def real_label_row_count(label_row: LabelRowV2) -> int:
        raise AssertionError("the real dependency must not run")

    def fake_count() -> int:
        return 42

    async def async_fake(task: AgentTask) -> int:
        return 7

    def agent(count: int = Depends(real_label_row_count)) -> int:
        return count

    assert run(solve_and_call(agent, overrides={real_label_row_count: fake_count})) == 42
    assert run(solve_and_call(agent, {AgentTask: "t"}, overrides={real_label_row_count: async_fake})) == 7


def test_call_agent_can_run_a_sync_agent_in_a_thread() -> None:
    async def scenario() -> tuple[int, int]:
        def agent() -> int:
            return threading.get_ident()

        dependant: Dependant = analyze(agent)
        return await call_agent(dependant, {}, in_thread=True), threading.get_ident()

    agent_thread, loop_thread = run(scenario())
    assert agent_thread != loop_thread


def test_cancelling_a_solve_still_registers_a_sync_generator_being_entered() -> None:
    calls = Calls()
    entering = threading.Event()
    proceed = threading.Event()

    def slow_resource() -> Iterator[str]:
        entering.set()
        proceed.wait(EVENT_TIMEOUT_S)
        yield "r"
        calls.hit("teardown")

    def agent(r: str = Depends(slow_resource)) -> None: ...

    async def scenario() -> None:
        dependant = analyze(agent)
        async with contextlib.AsyncExitStack() as stack:
            solving = asyncio.ensure_future(solve(dependant, stack=stack))
            await asyncio.to_thread(entering.wait, EVENT_TIMEOUT_S)
            solving.cancel()
            proceed.set()
            with pytest.raises(asyncio.CancelledError):
                await solving
            assert calls.counts == {}  # not torn down yet: the stack is still open

    run(scenario())
    assert calls.counts == {"teardown": 1}


def test_an_override_that_cannot_be_injected_is_a_definition_error() -> None:
    def real() -> int:
        return 1

    def bad_override(threshold: float) -> int:
        return 2

    def agent(value: int = Depends(real)) -> int:
        return value

    with pytest.raises(DependencyDefinitionError, match="'threshold'"):
        run(solve_and_call(agent, overrides={real: bad_override}))
