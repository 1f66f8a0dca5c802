"""Per-task solving: run a `Dependant` tree's callables and return the root's keyword arguments.

One `solve` per task (per try). The caller owns the `AsyncExitStack`: generator dependencies are entered on it and
their teardown runs when the caller closes it, also when the agent raised. Within one solve each dependency runs
once (unless `use_cache=False`), sync callables run in worker threads so blocking I/O of concurrently solved tasks
overlaps, and independent async dependencies of one node run concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

from runner_core.context import TaskScope
from runner_core.di.dependant import CallKind, Dependant, InjectedParam, replaced
from runner_core.di.errors import DependencyDefinitionError, DependencyResolutionError, DependencyTeardownError, DIError
from runner_core.di.instance import MISSING, InstanceScope, process_instances
from runner_core.di.params import Scope
from runner_core.di.requirements import value_from_scope

Overrides = Mapping[Callable[..., Any], Callable[..., Any]]

_ERROR_TEXT_LIMIT = 200  # keep errors short: the cause object carries the full detail


async def solve(
    dependant: Dependant,
    *,
    stack: contextlib.AsyncExitStack,
    scope: TaskScope | None = None,
    cache: dict[Callable[..., Any], Any] | None = None,
    overrides: Overrides | None = None,
    instances: InstanceScope | None = None,
) -> dict[str, Any]:
    """Solve `dependant`'s parameters for one task and return the keyword arguments for `dependant.call`.

    Auto-injected parameters are taken from `scope` (None when it holds nothing for them). `cache` maps a
    dependency callable to its value; pass a fresh dict per task (or None).
    `overrides` replaces dependency callables (FastAPI's `dependency_overrides`), e.g. with fakes in tests.
    Instance-scoped dependencies come from `instances` (default: this process's scope), created there on first use.

    Raises `DependencyResolutionError` (original exception as `__cause__`) when a dependency fails or a needed
    value is unavailable; `DependencyDefinitionError` if an override cannot be injected.
    """
    solver = _Solver(
        stack=stack,
        scope=scope,
        cache=cache if cache is not None else {},
        overrides=overrides or {},
        instances=instances if instances is not None else process_instances(),
    )
    return await solver.arguments(dependant, path=())


async def call_agent(dependant: Dependant, kwargs: Mapping[str, Any], *, in_thread: bool = False) -> Any:
    """Call the root callable (the agent) with the solved `kwargs` and return its result.

    `async def` agents are awaited on the loop. Sync agents run on the calling thread, or in a worker thread with
    `in_thread=True` (the runner decides: the pipeline calls sync agents one at a time). The agent's own
    exception propagates unchanged, so it is never mistaken for a dependency failure.
    """
    if dependant.kind.is_generator:
        raise DependencyDefinitionError(f"agent {dependant.qualname} is a generator function; it must return.")
    if dependant.kind is CallKind.ASYNC:
        return await dependant.call(**kwargs)
    if in_thread:
        result = await asyncio.to_thread(dependant.call, **kwargs)
    else:
        result = dependant.call(**kwargs)
    if inspect.iscoroutine(result):  # a sync wrapper around an async function
        result = await result
    return result


class _Solver:
    """State of one solve: the cache, in-flight dependencies, analysed overrides."""

    def __init__(
        self,
        *,
        stack: contextlib.AsyncExitStack,
        scope: TaskScope | None,
        cache: dict[Callable[..., Any], Any],
        overrides: Overrides,
        instances: InstanceScope,
    ) -> None:
        self._stack = stack
        self._instances = instances
        self._scope = scope
        self._cache = cache
        self._overrides = overrides
        # Futures for dependencies being computed, so concurrent siblings sharing one wait instead of re-running.
        self._in_flight: dict[Callable[..., Any], asyncio.Future[Any]] = {}
        self._analysed_overrides: dict[tuple[Callable[..., Any], str | None, bool], Dependant] = {}

    async def arguments(self, node: Dependant, *, path: tuple[str, ...]) -> dict[str, Any]:
        kwargs = {param.name: self._injected_value(node, param, path) for param in node.injected}
        if not node.dependencies:
            return kwargs
        subs = [self._effective(sub) for sub in node.dependencies]
        # Async siblings run concurrently; sync ones keep their declaration order (in one chain) so user code that
        # is not thread-safe never runs two of one task's sync dependencies at once.
        sync_subs = [sub for sub in subs if not sub.kind.is_async]
        jobs: list[Awaitable[None]] = [self._fill(kwargs, sub, path) for sub in subs if sub.kind.is_async]
        if sync_subs:
            jobs.append(self._fill_in_order(kwargs, sync_subs, path))
        if len(jobs) == 1:
            await jobs[0]
        else:
            await _all_or_first_error(jobs)
        return kwargs

    async def _fill(self, kwargs: dict[str, Any], sub: Dependant, path: tuple[str, ...]) -> None:
        assert sub.name is not None  # sub-dependants are always bound to a parameter
        kwargs[sub.name] = await self._value(sub, (*path, sub.name))

    async def _fill_in_order(self, kwargs: dict[str, Any], subs: list[Dependant], path: tuple[str, ...]) -> None:
        for sub in subs:
            await self._fill(kwargs, sub, path)

    def _effective(self, sub: Dependant) -> Dependant:
        replacement = self._overrides.get(sub.call)
        if replacement is None:
            return sub
        key = (replacement, sub.name, sub.use_cache)
        if key not in self._analysed_overrides:
            self._analysed_overrides[key] = replaced(sub, replacement)
        return self._analysed_overrides[key]

    def _injected_value(self, node: Dependant, param: InjectedParam, path: tuple[str, ...]) -> Any:
        value: Any = None if self._scope is None else value_from_scope(self._scope, param.requirement)
        if value is None and not param.optional:
            raise DependencyResolutionError(
                f"{node.qualname} needs a {param.injected_type.__name__} for parameter {param.name!r}, but none is "
                f"available for this task (requirement {param.requirement.value!r}).",
                dependency=node.qualname,
                path=(*path, param.name),
                missing=param.requirement,
            )
        return value

    async def _value(self, sub: Dependant, path: tuple[str, ...]) -> Any:
        if sub.scope is Scope.INSTANCE:
            value = self._instances.created(sub, overrides=self._overrides)
            if value is not MISSING:  # warm: no worker thread needed
                return value
            return await asyncio.to_thread(self._instances.value, sub, overrides=self._overrides, path=path)
        if not sub.use_cache:
            return await self._run(sub, path)
        key = sub.call
        if key in self._cache:
            return self._cache[key]
        if key in self._in_flight:
            # shield: a cancelled waiter must not cancel the computation other waiters share
            return await asyncio.shield(self._in_flight[key])
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            value = await self._run(sub, path)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters (if any) re-raise it themselves
            raise
        else:
            self._cache[key] = value
            future.set_result(value)
            return value
        finally:
            del self._in_flight[key]

    async def _run(self, sub: Dependant, path: tuple[str, ...]) -> Any:
        kwargs = await self.arguments(sub, path=path)
        try:
            return await self._invoke(sub, kwargs)
        except DIError:
            raise
        except Exception as exc:
            raise DependencyResolutionError(
                f"dependency {sub.qualname} (for {' -> '.join(path)}) failed: {_short(exc)}",
                dependency=sub.qualname,
                path=path,
            ) from exc

    async def _invoke(self, sub: Dependant, kwargs: dict[str, Any]) -> Any:
        match sub.kind:
            case CallKind.ASYNC:
                return await sub.call(**kwargs)
            case CallKind.ASYNC_GENERATOR:
                manager = contextlib.asynccontextmanager(sub.call)(**kwargs)
                value = await manager.__aenter__()
                self._stack.push_async_exit(_Teardown(manager.__aexit__, sub.qualname))
                return value
            case CallKind.SYNC_GENERATOR:
                return await self._enter_sync_generator(sub, kwargs)
            case CallKind.SYNC:
                result = await asyncio.to_thread(sub.call, **kwargs)
                if inspect.iscoroutine(result):  # a sync wrapper around an async function
                    result = await result
                return result

    async def _enter_sync_generator(self, sub: Dependant, kwargs: dict[str, Any]) -> Any:
        manager = contextlib.contextmanager(sub.call)(**kwargs)
        entering = asyncio.ensure_future(asyncio.to_thread(manager.__enter__))
        try:
            # shield: a worker thread cannot be interrupted; if we are cancelled while it runs we still wait for it
            # below so its teardown gets registered instead of leaking (e.g. a temp dir).
            return await asyncio.shield(entering)
        except asyncio.CancelledError:
            with contextlib.suppress(BaseException):
                await entering
            raise
        finally:
            if entering.done() and not entering.cancelled() and entering.exception() is None:
                self._stack.push_async_exit(_Teardown(_exit_in_thread(manager), sub.qualname))


_ExitCall = Callable[[type[BaseException] | None, BaseException | None, TracebackType | None], Awaitable[bool | None]]


class _Teardown:
    """Exit callback for a generator dependency: runs its code after `yield` (`exit_call` is its `__exit__`)."""

    def __init__(self, exit_call: _ExitCall, name: str) -> None:
        self._exit_call = exit_call
        self._name = name

    async def __call__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        try:
            await self._exit_call(exc_type, exc, tb)
        except Exception as err:
            _raise_teardown_error(err, exc, self._name)
        # Never suppress: a dependency must not hide the agent's exception from the runner.
        return False


def _exit_in_thread(manager: contextlib.AbstractContextManager[Any]) -> _ExitCall:
    """A sync generator's `__exit__`, run in a worker thread like its code before `yield`."""

    async def exit_call(
        exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return await asyncio.to_thread(manager.__exit__, exc_type, exc, tb)

    return exit_call


def _raise_teardown_error(err: Exception, in_flight: BaseException | None, name: str) -> None:
    if err is in_flight:
        raise err  # the agent's (or an earlier) exception passing through the generator unchanged
    raise DependencyTeardownError(f"teardown of dependency {name} failed: {_short(err)}", dependency=name) from err


async def _all_or_first_error(jobs: list[Awaitable[None]]) -> None:
    """Run `jobs` concurrently; on the first failure cancel the rest, wait for them, and raise that failure.

    Hand-written rather than `asyncio.TaskGroup` so the caller gets the dependency's error itself, not an
    ExceptionGroup it would have to unwrap.
    """
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        failure = None if task.cancelled() else task.exception()
        if failure is not None:
            raise failure


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _ERROR_TEXT_LIMIT else text[: _ERROR_TEXT_LIMIT - 1] + "…"


__all__ = ["Overrides", "call_agent", "solve"]
