"""Dependency injection for task agents, in the style of FastAPI's.

`analyze` reads an agent's signature once (at decoration); `solve` produces its keyword arguments per task;
`call_agent` calls it. See docs/architecture.md, "Dependency injection and scopes".

Choices (where encord-agents 0.2.10 differs or is silent):
- Unsupported parameters fail in `analyze` (at decoration), not when the first task is solved.
- A parameter with a plain default and no injectable annotation keeps its default (the callable's configuration).
- `T | None` / `Optional[T]` of an injected type is accepted and receives None when the runner has no value.
- `EncordUserClient` and `TaskScope` are auto-injected too.
- A dependency's failure is a `DependencyResolutionError` whose `__cause__` is the original exception; the agent's
  own exception is never wrapped. A generator dependency sees the agent's exception at its `yield` but cannot
  suppress it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner_core.di.dependant import CallKind, Dependant, InjectedParam, analyze, describe, effective_requirements
from runner_core.di.errors import (
    DependencyDefinitionError,
    DependencyResolutionError,
    DependencyTeardownError,
    DIError,
)
from runner_core.di.params import Depends, DependsMarker
from runner_core.di.requirements import INJECTABLE_TYPES, Requirement

if TYPE_CHECKING:
    from runner_core.di.solver import Overrides, call_agent, solve

__all__ = [
    "INJECTABLE_TYPES",
    "CallKind",
    "DIError",
    "Dependant",
    "DependencyDefinitionError",
    "DependencyResolutionError",
    "DependencyTeardownError",
    "Depends",
    "DependsMarker",
    "InjectedParam",
    "Overrides",
    "Requirement",
    "analyze",
    "call_agent",
    "describe",
    "effective_requirements",
    "solve",
]

_SOLVER_NAMES = frozenset({"Overrides", "call_agent", "solve"})


def __getattr__(name: str) -> Any:
    # The solver needs asyncio (about a third of runner-core's import time): it loads with the first task solved,
    # not when an agent module is imported.
    if name in _SOLVER_NAMES:
        from runner_core.di import solver

        return getattr(solver, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
