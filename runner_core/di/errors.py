"""The dependency-injection exception hierarchy.

`DIError` is the base (itself a `runner_core.errors.RunnerCoreError`). A runner tells the failure modes apart by type:

- `DependencyDefinitionError`: the agent's signature cannot be injected (raised at decoration).
- `DependencyResolutionError`: a dependency raised (or a value it needs is unavailable) while solving one task.
  The dependency's own exception is kept as `__cause__` (and `.original`) so it can still be classified,
  e.g. an Encord timeout stays retryable.
- `DependencyTeardownError`: a generator dependency raised while its scope was closing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner_core.errors import RunnerCoreError

if TYPE_CHECKING:
    from runner_core.di.requirements import Requirement


class DIError(RunnerCoreError):
    """Base of every dependency-injection error."""


class DependencyDefinitionError(DIError, TypeError):
    """A signature that cannot be injected. Raised when the agent or dependency is analysed (at decoration)."""


class DependencyResolutionError(DIError):
    """A dependency failed while one task's dependencies were solved.

    `dependency` is the failing callable's qualified name and `path` the chain of parameter names from the agent
    down to it. `missing` is set instead of a cause when the runner provided no value for an auto-injected type.
    """

    def __init__(
        self,
        message: str,
        *,
        dependency: str,
        path: tuple[str, ...] = (),
        missing: Requirement | None = None,
    ) -> None:
        super().__init__(message)
        self.dependency = dependency
        self.path = path
        self.missing = missing

    @property
    def original(self) -> BaseException | None:
        """The dependency's own exception (the `__cause__`), if it raised one."""
        return self.__cause__


class DependencyTeardownError(DIError):
    """A generator dependency raised during teardown (when the task's exit stack closed)."""

    def __init__(self, message: str, *, dependency: str) -> None:
        super().__init__(message)
        self.dependency = dependency

    @property
    def original(self) -> BaseException | None:
        """The exception the teardown code raised."""
        return self.__cause__
