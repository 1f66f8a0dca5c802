"""runner-core: run Encord workflow task agents serverless.

The task-agent API of encord-agents 0.2.10 (`QueueRunner`, `SequentialRunner`/`Runner`, `Depends`,
`TaskAgentReturnStruct`, ...) with per-task outcomes a queue can act on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner_core.di import DependencyDefinitionError, DependencyResolutionError, Depends
from runner_core.errors import (
    ConfigurationError,
    DeadlineExceededError,
    DuplicateStageError,
    MessageDecodeError,
    PermanentError,
    ProjectError,
    RetryableError,
    RunnerCoreError,
    SettingsError,
    StageNotFoundError,
    UnknownPathwayError,
)
from runner_core.models import (
    LabelRowInitialiseLabelsArgs,
    LabelRowMetadataIncludeArgs,
    TaskAgentReturnStruct,
    TaskCompletionResult,
)
from runner_core.outcomes import MessageResult, Outcome, QueueMessage, TaskOutcome
from runner_core.runners import QueueRunner, RunnerBase

if TYPE_CHECKING:
    from runner_core.runners.sequential import Runner, SequentialRunner

__all__ = [
    "ConfigurationError",
    "DeadlineExceededError",
    "DependencyDefinitionError",
    "DependencyResolutionError",
    "Depends",
    "DuplicateStageError",
    "LabelRowInitialiseLabelsArgs",
    "LabelRowMetadataIncludeArgs",
    "MessageDecodeError",
    "MessageResult",
    "Outcome",
    "PermanentError",
    "ProjectError",
    "QueueMessage",
    "QueueRunner",
    "RetryableError",
    "Runner",
    "RunnerBase",
    "RunnerCoreError",
    "SequentialRunner",
    "SettingsError",
    "StageNotFoundError",
    "TaskAgentReturnStruct",
    "TaskCompletionResult",
    "TaskOutcome",
    "UnknownPathwayError",
]


def __getattr__(name: str) -> Any:
    if name in ("Runner", "SequentialRunner"):  # loaded on first use, see runner_core.runners
        from runner_core.runners import sequential

        return getattr(sequential, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
