"""`FunctionSettings`: every environment variable the cloud entrypoints read, parsed and checked in one place.

Read per invocation (`function_settings()`), not cached: a warm instance picks up nothing stale, and the cost is
one small pydantic model. A wrong value raises `functions.errors.ConfigurationError` naming the variable; a secret's
value never appears in it.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from functions.errors import ConfigurationError
from functions.publishers.pubsub import DEFAULT_TASKS_PER_MESSAGE

DEFAULT_MAX_ATTEMPTS = 5  # the default of SQS guidance (maxReceiveCount) and of Pub/Sub's max_delivery_attempts
DEFAULT_DEADLINE_MARGIN_S = 10.0
DEFAULT_SECRET_TTL_S = 300
_SECRETS = frozenset({"ENCORD_WEBHOOK_SECRET"})


class FunctionSettings(BaseSettings):
    """The functions layer's variables (docs/architecture.md's table says who sets each). Blank means unset."""

    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True, env_ignore_empty=True)

    target: str = Field(default="", validation_alias="RUNNER_TARGET")
    max_attempts: int = Field(default=DEFAULT_MAX_ATTEMPTS, ge=1, validation_alias="RUNNER_MAX_ATTEMPTS")
    deadline_margin_s: float = Field(default=DEFAULT_DEADLINE_MARGIN_S, validation_alias="RUNNER_DEADLINE_MARGIN_S")
    # Cloud Functions has no remaining-time API: the deployed timeout stands in for it (GCP only).
    function_timeout_s: float | None = Field(default=None, validation_alias="RUNNER_FUNCTION_TIMEOUT_S")
    queue_url: str = Field(default="", validation_alias="RUNNER_QUEUE_URL")
    dlq_url: str = Field(default="", validation_alias="RUNNER_DLQ_URL")
    topic: str = Field(default="", validation_alias="RUNNER_TOPIC")
    dead_letter_topic: str = Field(default="", validation_alias="RUNNER_DEAD_LETTER_TOPIC")
    tasks_per_message: int = Field(
        default=DEFAULT_TASKS_PER_MESSAGE, ge=1, validation_alias="RUNNER_TASKS_PER_MESSAGE"
    )  # Pub/Sub only: the producer's packing (functions.publishers.pubsub says why 10)
    allow_unsigned_schedule: bool = Field(default=False, validation_alias="RUNNER_ALLOW_UNSIGNED_SCHEDULE")
    project_allowlist: str = Field(default="", validation_alias="RUNNER_PROJECT_ALLOWLIST")
    dispatch_statuses: str = Field(default="", validation_alias="RUNNER_DISPATCH_STATUSES")
    secret_ttl_s: int = Field(default=DEFAULT_SECRET_TTL_S, ge=0, validation_alias="RUNNER_SECRET_TTL_S")
    ssh_key_secret_arn: str = Field(default="", validation_alias="ENCORD_SSH_KEY_SECRET_ARN")
    webhook_secret: SecretStr | None = Field(default=None, validation_alias="ENCORD_WEBHOOK_SECRET")
    webhook_secret_arn: str = Field(default="", validation_alias="ENCORD_WEBHOOK_SECRET_ARN")
    # The task ledger's store (functions.ledgers): a DynamoDB table on AWS, a Firestore collection on GCP.
    ledger_table: str = Field(default="", validation_alias="RUNNER_LEDGER_TABLE")
    ledger_collection: str = Field(default="", validation_alias="RUNNER_LEDGER_COLLECTION")
    # AWS producer: list nothing while the queue holds more visible messages than this.
    dispatch_max_queue_depth: int | None = Field(default=None, ge=0, validation_alias="RUNNER_DISPATCH_MAX_QUEUE_DEPTH")

    @field_validator(
        "target",
        "queue_url",
        "dlq_url",
        "topic",
        "dead_letter_topic",
        "ssh_key_secret_arn",
        "webhook_secret_arn",
        "ledger_table",
        "ledger_collection",
        mode="after",
    )
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


def function_settings() -> FunctionSettings:
    """`FunctionSettings()` from the environment; a wrong value raises `ConfigurationError` naming the variable."""
    try:
        return FunctionSettings()
    except ValidationError as exc:
        raise ConfigurationError("; ".join(_describe(error) for error in exc.errors())) from None


def _describe(error: object) -> str:
    assert isinstance(error, dict)
    name = ".".join(str(part) for part in error.get("loc", ()))
    shown = "" if name in _SECRETS or "input" not in error else f"={error['input']!r}"
    return f"{name}{shown}: {error.get('msg', 'invalid')}"


__all__ = ["FunctionSettings", "function_settings"]
