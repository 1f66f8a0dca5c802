"""`Depends`: the marker that tells the analyser a parameter is produced by another callable."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class DependsMarker:
    """What `Depends(...)` returns. `dependency=None` means "use the parameter's annotation as the factory"."""

    dependency: Callable[..., Any] | None = None
    use_cache: bool = True

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__qualname__", repr(self.dependency)) if self.dependency else ""
        cache = "" if self.use_cache else ", use_cache=False"
        return f"Depends({name}{cache})"


def Depends(  # capitalised like FastAPI's, which users already know
    dependency: Callable[..., Any] | None = None, *, use_cache: bool = True
) -> Any:
    """Declare that a parameter's value is produced by `dependency`.

    Use it as a default value (`x: T = Depends(f)`) or inside `Annotated[T, Depends(f)]`, not both.
    `dependency` may be a function, an `async def`, a generator (its code after `yield` runs when the task's scope
    closes) or a class; `Depends()` uses the annotation itself as the factory. With `use_cache=False` this
    parameter gets a fresh value even if the same dependency was already solved for the task.

    Typed as returning `Any` so `x: np.ndarray = Depends(f)` type-checks, as in FastAPI.
    """
    return DependsMarker(dependency=dependency, use_cache=use_cache)
