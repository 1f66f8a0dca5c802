"""The exception hierarchy of runner-core.

Two branches matter to a queue: a `PermanentError` will fail again on every delivery (dead-letter it at once), a
`RetryableError` may succeed later (redeliver it). Any other exception raised by an agent counts as retryable.

    RunnerCoreError
    ├── PermanentError            raise it from an agent: "never retry this task"
    │   ├── MessageDecodeError    a body that cannot be decoded
    │   ├── ProjectError          unknown / inaccessible / non-workflow project
    │   ├── StageNotFoundError    not an agent stage of the project (lists the valid ones)
    │   └── UnknownPathwayError   an agent returned a pathway its stage does not have
    ├── RetryableError            may pass on a later attempt
    │   └── DeadlineExceededError the invocation's deadline was too close to start the task
    ├── ConfigurationError        wrong code or environment (also a ValueError)
    │   ├── SettingsError         Encord credentials missing or inconsistent (never quotes the key)
    │   └── DuplicateStageError   two agents for one stage
    └── runner_core.di.DIError    dependency injection: DependencyDefinitionError (at decoration),
                                  DependencyResolutionError / DependencyTeardownError (per task; classified by
                                  their cause)

`runner_core.media.MediaError` (a RunnerCoreError) groups the media errors, each also a `PermanentError` or a
`RetryableError`.
"""

from __future__ import annotations

from collections.abc import Iterable


class RunnerCoreError(Exception):
    """Base class of every error runner-core raises on purpose."""


class PermanentError(RunnerCoreError):
    """Raise this from an agent (or a dependency) to say "never retry this task".

    The task fails permanently: the queue dead-letters it instead of redelivering it, and, when the stage has a
    `failure_pathway`, the task is routed along it at once.
    """


class RetryableError(RunnerCoreError):
    """A failure that may pass on a later attempt (an agent may raise it to be explicit)."""


class ConfigurationError(RunnerCoreError, ValueError):
    """The runner, a stage registration or the settings are wrong; fixing the code or the environment is needed."""


class SettingsError(ConfigurationError):
    """The Encord credentials in the environment are missing or inconsistent (the message never holds the key)."""


class DuplicateStageError(ConfigurationError):
    """Two agents were registered for the same stage without `overwrite=True`."""


class MessageDecodeError(PermanentError, ValueError):
    """A queue message body cannot be decoded; the reason says exactly what is wrong."""


class ProjectError(PermanentError, ValueError):
    """The project is unknown, not reachable with these credentials, or not a workflow project."""


class StageNotFoundError(PermanentError, ValueError):
    """A stage name or uuid does not match an agent stage of the project; the message lists the valid ones."""

    def __init__(self, message: str, *, valid_stages: Iterable[str] = ()) -> None:
        self.valid_stages = tuple(valid_stages)
        if self.valid_stages:
            message = f"{message}. Valid agent stages: {', '.join(self.valid_stages)}"
        super().__init__(message)


class UnknownPathwayError(PermanentError, ValueError):
    """An agent returned a pathway (name or uuid) that its stage does not have."""


class DeadlineExceededError(RetryableError):
    """The task was not started because the invocation's deadline was too close."""


__all__ = [
    "ConfigurationError",
    "DeadlineExceededError",
    "DuplicateStageError",
    "MessageDecodeError",
    "PermanentError",
    "ProjectError",
    "RetryableError",
    "RunnerCoreError",
    "SettingsError",
    "StageNotFoundError",
    "UnknownPathwayError",
]
