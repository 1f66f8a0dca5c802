"""Secrets the functions read: the Encord SSH key and the webhook secret.

On AWS either may come from Secrets Manager by ARN, through Powertools' `get_secret` (in-memory cache with a TTL,
so a warm instance asks once per TTL, and a rotated secret is picked up after it). On GCP, Cloud Functions mounts
the secret as an environment variable or a file (`ENCORD_SSH_KEY` / `ENCORD_SSH_KEY_FILE`), which the core reads
itself. Values never reach a log line, an error message or a result.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from functions.errors import ConfigurationError

if TYPE_CHECKING:
    from encord.user_client import EncordUserClient

    from functions.settings import FunctionSettings

SSH_KEY_SECRET_ARN_ENV = "ENCORD_SSH_KEY_SECRET_ARN"
WEBHOOK_SECRET_ARN_ENV = "ENCORD_WEBHOOK_SECRET_ARN"

# At DEBUG these dump whole request and response bodies: for GetSecretValue that is the secret itself. Whatever
# level the function runs at, they stay at INFO or above.
_WIRE_LOGGERS = ("botocore.endpoint", "botocore.parsers", "botocore.hooks", "botocore.auth", "urllib3.connectionpool")
for _name in _WIRE_LOGGERS:
    logging.getLogger(_name).setLevel(logging.INFO)


def secret_from_arn(arn: str, *, env_name: str, ttl_s: int) -> str:
    """The secret string stored under `arn`, cached in this process for `ttl_s` (RUNNER_SECRET_TTL_S)."""
    from aws_lambda_powertools.utilities.parameters import get_secret

    try:
        value: object = get_secret(arn, max_age=ttl_s)
    except Exception as exc:
        # The exception text may quote the request but never the value; still, keep only its type and the variable.
        raise ConfigurationError(f"could not read the secret named by {env_name}: {type(exc).__name__}") from None
    if isinstance(value, bytes):
        value = value.decode()
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"the secret named by {env_name} is empty or not a string")
    return value


def client_from_secret(settings: FunctionSettings) -> EncordUserClient | None:
    """The Encord client for the key in Secrets Manager when `ENCORD_SSH_KEY_SECRET_ARN` is set; None otherwise
    (the core then reads `ENCORD_SSH_KEY` / `ENCORD_SSH_KEY_FILE` itself).

    The key goes straight into the client, never into the process environment. The core caches clients by the
    key's digest: an unchanged key reuses the warm client, a rotated one (after the TTL) gets a new one.
    """
    if not settings.ssh_key_secret_arn:
        return None
    from runner_core.client import get_user_client
    from runner_core.settings import EncordSettings

    key = secret_from_arn(settings.ssh_key_secret_arn, env_name=SSH_KEY_SECRET_ARN_ENV, ttl_s=settings.secret_ttl_s)
    return get_user_client(EncordSettings(ENCORD_SSH_KEY=key))


def webhook_secret(settings: FunctionSettings, *, allow_arn: bool) -> str | None:
    """`ENCORD_WEBHOOK_SECRET`, else (AWS) the secret named by `ENCORD_WEBHOOK_SECRET_ARN`; None when neither."""
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value()
    if allow_arn and settings.webhook_secret_arn:
        return secret_from_arn(
            settings.webhook_secret_arn, env_name=WEBHOOK_SECRET_ARN_ENV, ttl_s=settings.secret_ttl_s
        )
    return None
