"""`Depends`: the marker that tells the analyser a parameter is produced by another callable."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal


class Scope(StrEnum):
    """How long a dependency's value lives."""

    TASK = "task"  # solved for each task (and each try); generator teardown when the task ends
    INSTANCE = "instance"  # solved once per warm instance (process), shared by every task; teardown at shutdown


class OnRestore(StrEnum):
    """What an instance-scoped value does when a snapshot of the instance is restored (AWS Lambda SnapStart)."""

    RECREATE = "recreate"  # torn down and made again on first use: connections, sessions, anything random or unique
    KEEP = "keep"  # kept as snapshotted: pure data such as model weights, the point of loading before the snapshot


@dataclass(frozen=True, slots=True)
class DependsMarker:
    """What `Depends(...)` returns. `dependency=None` means "use the parameter's annotation as the factory"."""

    dependency: Callable[..., Any] | None = None
    use_cache: bool = True
    scope: Scope = Scope.TASK
    on_restore: OnRestore = OnRestore.RECREATE

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__qualname__", repr(self.dependency)) if self.dependency else ""
        cache = "" if self.use_cache else ", use_cache=False"
        scope = "" if self.scope is Scope.TASK else f", scope={self.scope.value!r}"
        return f"Depends({name}{cache}{scope})"


def Depends(  # capitalised like FastAPI's, which users already know
    dependency: Callable[..., Any] | None = None,
    *,
    use_cache: bool = True,
    scope: Literal["task", "instance"] | Scope = Scope.TASK,
    on_restore: Literal["recreate", "keep"] | OnRestore = OnRestore.RECREATE,
) -> Any:
    """Declare that a parameter's value is produced by `dependency`.

    Use it as a default value (`x: T = Depends(f)`) or inside `Annotated[T, Depends(f)]`, not both.
    `dependency` may be a function, an `async def`, a generator (its code after `yield` runs when the task's scope
    closes) or a class; `Depends()` uses the annotation itself as the factory. With `use_cache=False` this
    parameter gets a fresh value even if the same dependency was already solved for the task.

    `scope="instance"` solves it once per warm instance (a model, a tokenizer, an HTTP session) and shares the
    value with every task and batch after it; the first use is thread-safe. Such a dependency must be a plain
    function or a generator function (its code after `yield` runs when the instance shuts down) and may depend only
    on other instance-scoped dependencies, never on a task's values. `dependency_overrides` replace it like any
    other dependency. `on_restore="keep"` keeps its value across a SnapStart restore (see `OnRestore`); the default
    re-creates it, since a value made before the snapshot is shared by every instance restored from it.

    Typed as returning `Any` so `x: np.ndarray = Depends(f)` type-checks, as in FastAPI.
    """
    return DependsMarker(
        dependency=dependency, use_cache=use_cache, scope=Scope(scope), on_restore=OnRestore(on_restore)
    )
