"""Secrets the functions read: the Encord SSH key and the webhook secret.

On AWS either may come from Secrets Manager by ARN, through Powertools' `get_secret` (in-memory cache with a TTL,
so a warm instance asks once per TTL, and a rotated secret is picked up after it). On GCP, Cloud Functions mounts
the secret as an environment variable or a file (`ENCORD_SSH_KEY` / `ENCORD_SSH_KEY_FILE`), which the core reads
itself. Values never reach a log line, an error message or a result.
"""

from __future__ import annotations

import logging
import os

from functions.errors import ConfigurationError

SSH_KEY_SECRET_ARN_ENV = "ENCORD_SSH_KEY_SECRET_ARN"
WEBHOOK_SECRET_ENV = "ENCORD_WEBHOOK_SECRET"
WEBHOOK_SECRET_ARN_ENV = "ENCORD_WEBHOOK_SECRET_ARN"
SECRET_TTL_ENV = "RUNNER_SECRET_TTL_S"
DEFAULT_TTL_S = 300

# At DEBUG these dump whole request and response bodies: for GetSecretValue that is the secret itself. Whatever
# level the function runs at, they stay at INFO or above.
_WIRE_LOGGERS = ("botocore.endpoint", "botocore.parsers", "botocore.hooks", "botocore.auth", "urllib3.connectionpool")
for _name in _WIRE_LOGGERS:
    logging.getLogger(_name).setLevel(logging.INFO)


def _ttl_s() -> int:
    raw = os.environ.get(SECRET_TTL_ENV, "")
    try:
        return int(raw) if raw else DEFAULT_TTL_S
    except ValueError:
        raise ConfigurationError(f"{SECRET_TTL_ENV}={raw!r} is not a whole number of seconds") from None


def secret_from_arn(arn: str, *, env_name: str) -> str:
    """The secret string stored under `arn`, cached in this process for `RUNNER_SECRET_TTL_S` (default 300 s)."""
    from aws_lambda_powertools.utilities.parameters import get_secret

    try:
        value: object = get_secret(arn, max_age=_ttl_s())
    except Exception as exc:
        # The exception text may quote the request but never the value; still, keep only its type and the variable.
        raise ConfigurationError(f"could not read the secret named by {env_name}: {type(exc).__name__}") from None
    if isinstance(value, bytes):
        value = value.decode()
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"the secret named by {env_name} is empty or not a string")
    return value


def ssh_key_from_environment() -> str | None:
    """The SSH key from Secrets Manager when `ENCORD_SSH_KEY_SECRET_ARN` is set (None otherwise: the core reads
    `ENCORD_SSH_KEY` / `ENCORD_SSH_KEY_FILE` itself)."""
    arn = os.environ.get(SSH_KEY_SECRET_ARN_ENV, "").strip()
    return secret_from_arn(arn, env_name=SSH_KEY_SECRET_ARN_ENV) if arn else None


def webhook_secret(*, allow_arn: bool) -> str | None:
    """`ENCORD_WEBHOOK_SECRET`, else (AWS) the secret named by `ENCORD_WEBHOOK_SECRET_ARN`; None when neither."""
    value = os.environ.get(WEBHOOK_SECRET_ENV, "")
    if value.strip():
        return value
    arn = os.environ.get(WEBHOOK_SECRET_ARN_ENV, "").strip()
    if allow_arn and arn:
        return secret_from_arn(arn, env_name=WEBHOOK_SECRET_ARN_ENV)
    return None
