"""The entrypoints' exceptions. Each carries the HTTP status it maps to where one applies.

They sit under the core's hierarchy: `except runner_core.errors.RunnerCoreError` catches both packages' errors,
and `except runner_core.errors.ConfigurationError` catches a wrong variable here as well as the core's
`SettingsError` (missing Encord key).
"""

from __future__ import annotations

from runner_core.errors import ConfigurationError as CoreConfigurationError
from runner_core.errors import RunnerCoreError


class FunctionsError(RunnerCoreError):
    """Base of every error raised by `functions`."""


class ConfigurationError(FunctionsError, CoreConfigurationError):
    """An environment variable is missing or malformed; the message names it and the fix."""


class TargetLoadError(ConfigurationError):
    """`RUNNER_TARGET` does not name an importable runner."""


class TransportDecodeError(FunctionsError):
    """The transport envelope (CloudEvent, push body, SQS record) is not what the cloud sends."""


class PublishError(FunctionsError):
    """Some messages could not be published; `failed` says how many."""

    def __init__(self, message: str, *, failed: int) -> None:
        super().__init__(message)
        self.failed = failed


class RetryDeliveryError(FunctionsError):
    """Raised by a consumer so the transport redelivers the message (Pub/Sub nack, SQS batch item failure)."""


class WebhookError(FunctionsError):
    """A webhook request that is refused; `status` is the HTTP status to answer with."""

    status: int = 400


class SignatureError(WebhookError):
    """Missing, malformed, stale or wrong signature."""

    status = 401


class ProjectNotAllowedError(WebhookError):
    """The notification names a project this function may not act on."""

    status = 403


class UnsupportedNotificationError(WebhookError):
    """A genuine notification on an envelope version this code cannot read."""

    status = 501
