"""Instance-scoped dependency values: created once per warm instance (process), shared by every task and batch.

A model, a tokenizer or an HTTP session loads on the first task that needs it (or ahead of it, with `warm`) and is
kept until the instance shuts down. Creation is thread-safe: concurrent first uses on several threads (and event
loops) wait for one creation instead of each loading its own copy. Generator dependencies are torn down, newest
first, by `close()`: at interpreter exit (registered with `atexit` on first use). After a SnapStart restore,
`after_restore()` tears down and forgets the values declared `on_restore="recreate"` (the default) and keeps the
`on_restore="keep"` ones (model weights).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from runner_core.di.dependant import CallKind, Dependant, replaced
from runner_core.di.errors import DependencyResolutionError, DIError
from runner_core.di.params import OnRestore, Scope

logger = logging.getLogger("runner_core")

Overrides = Mapping[Callable[..., Any], Callable[..., Any]]
INSTANCE_DEPENDENCY_CREATED = "instance_dependency_created"


# A value is keyed by the callable that made it and the overrides in force: a value built on an overridden
# dependency (a fake model in a test) is never handed to a caller without that override.
_Key = tuple[Callable[..., Any], frozenset[tuple[Callable[..., Any], Callable[..., Any]]]]
MISSING = object()


class InstanceScope:
    """The values of instance-scoped dependencies of one process."""

    def __init__(self) -> None:
        self._values: dict[_Key, Any] = {}  # in creation order: teardown runs in reverse
        self._policies: dict[_Key, OnRestore] = {}
        self._teardowns: dict[_Key, Callable[[], object]] = {}
        self._key_locks: dict[_Key, threading.Lock] = {}
        self._lock = threading.Lock()
        self._exit_registered = False

    def created(self, dependant: Dependant, *, overrides: Overrides | None = None) -> Any:
        """The value if it exists already, else MISSING (never blocks, never creates)."""
        node = _effective(dependant, overrides)
        return self._values.get(_key(node, overrides), MISSING)

    def value(self, dependant: Dependant, *, overrides: Overrides | None = None, path: tuple[str, ...] = ()) -> Any:
        """The value of `dependant` (after `overrides`), creating it (and its own dependencies) on first use.

        Blocking: the solver calls it in a worker thread. A failed creation is not kept; the next use retries.
        """
        node = _effective(dependant, overrides)
        key = _key(node, overrides)
        if key in self._values:  # the fast path, lock-free: dict reads are atomic
            return self._values[key]
        with self._lock_for(key):
            if key in self._values:
                return self._values[key]
            kwargs = {
                str(sub.name): self.value(sub, overrides=overrides, path=(*path, str(sub.name)))
                for sub in node.dependencies
            }
            started = time.perf_counter()
            value = self._create(node, key, kwargs, path)
            # One line per creation: how often (once per instance) and how long a model load takes, in the logs.
            logger.info(
                "instance-scoped dependency %s created",
                node.qualname,
                extra={
                    "event": INSTANCE_DEPENDENCY_CREATED,
                    "dependency": node.qualname,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            with self._lock:
                self._values[key] = value
                self._policies[key] = node.on_restore
            self._register_exit()
            return value

    def warm(self, dependants: list[Dependant], *, overrides: Overrides | None = None) -> int:
        """Create every instance-scoped dependency found in `dependants`' trees now; returns how many exist."""
        for dependant in dependants:
            for node in instance_scoped(dependant):
                self.value(node, overrides=overrides, path=(str(node.name),))
        return len(self._values)

    def close(self) -> None:
        """Tear down generator dependencies (newest first) and forget every value; the next use re-creates it."""
        self._forget(lambda key: True)

    def after_restore(self) -> int:
        """Forget (tearing down) the values a restored snapshot must not share; returns how many were kept."""
        self._forget(lambda key: self._policies.get(key) is not OnRestore.KEEP)
        return len(self._values)

    def _forget(self, which: Callable[[_Key], bool]) -> None:
        with self._lock:
            keys = [key for key in self._values if which(key)]
            teardowns = [self._teardowns.pop(key) for key in reversed(keys) if key in self._teardowns]
            for key in keys:
                del self._values[key]
                self._policies.pop(key, None)
                self._key_locks.pop(key, None)
        for teardown in teardowns:
            try:
                teardown()
            except Exception:  # one failing teardown must not keep the others from running
                logger.exception("teardown of an instance-scoped dependency failed")

    def _lock_for(self, key: _Key) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def _create(self, node: Dependant, key: _Key, kwargs: dict[str, Any], path: tuple[str, ...]) -> Any:
        try:
            if node.kind is CallKind.SYNC_GENERATOR:
                manager = contextlib.contextmanager(node.call)(**kwargs)
                value = manager.__enter__()
                with self._lock:
                    self._teardowns[key] = lambda: manager.__exit__(None, None, None)
                return value
            return node.call(**kwargs)
        except DIError:
            raise
        except Exception as exc:
            raise DependencyResolutionError(
                f"instance-scoped dependency {node.qualname} (for {' -> '.join(path) or 'warm-up'}) failed: "
                f"{type(exc).__name__}: {exc}",
                dependency=node.qualname,
                path=path,
            ) from exc

    def _register_exit(self) -> None:
        if not self._exit_registered:
            self._exit_registered = True
            atexit.register(self.close)


def instance_scoped(dependant: Dependant) -> list[Dependant]:
    """The outermost instance-scoped nodes of `dependant`'s tree (theirs are instance-scoped by construction)."""
    found: list[Dependant] = []
    for sub in dependant.dependencies:
        if sub.scope is Scope.INSTANCE:
            found.append(sub)
        else:
            found.extend(instance_scoped(sub))
    return found


def _key(node: Dependant, overrides: Overrides | None) -> _Key:
    return node.call, frozenset(overrides.items()) if overrides else frozenset()


def _effective(dependant: Dependant, overrides: Overrides | None) -> Dependant:
    replacement = overrides.get(dependant.call) if overrides else None
    return dependant if replacement is None else replaced(dependant, replacement)


_process_scope = InstanceScope()


def process_instances() -> InstanceScope:
    """This process's instance scope: the one every runner's tasks share."""
    return _process_scope


__all__ = ["InstanceScope", "instance_scoped", "process_instances"]
