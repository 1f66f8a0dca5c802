"""One `EncordUserClient` per process and credentials.

encord-agents keys its cache on the settings object, which a key file defeats (a new client per call). Here the
cache key is a digest of the key content plus the domain, however the key was supplied.
"""

from __future__ import annotations

import hashlib
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from encord.user_client import EncordUserClient

    from runner_core.settings import EncordSettings

USER_AGENT_SUFFIX = "runner-core/0.1.0"

_clients: dict[tuple[str, str | None], EncordUserClient] = {}
_lock = threading.Lock()


def get_user_client(settings: EncordSettings | None = None) -> EncordUserClient:
    """The process-wide client for these settings (read from the environment when not given)."""
    # Imported here so that importing runner_core stays cheap and never needs credentials.
    settings = settings or load_settings()
    key = settings.ssh_key
    cache_key = (hashlib.sha256(key.encode("utf-8")).hexdigest(), settings.domain)
    with _lock:
        client = _clients.get(cache_key)
        if client is None:
            client = _create_client(key, settings.domain, source=key_source(settings))
            _clients[cache_key] = client
        return client


def load_settings() -> EncordSettings:
    """`EncordSettings()` from the environment, with any problem raised as a `SettingsError` (never the key)."""
    from pydantic import ValidationError

    from runner_core.errors import SettingsError
    from runner_core.settings import EncordSettings

    try:
        return EncordSettings()
    except ValidationError as exc:
        reasons = "; ".join(str(error["msg"]).removeprefix("Value error, ") for error in exc.errors())
        raise SettingsError(reasons) from None


def key_source(settings: EncordSettings | None = None) -> str:
    """Where the key comes from, for messages (`ENCORD_SSH_KEY_FILE /path` or `ENCORD_SSH_KEY`); never the key."""
    import os

    if settings is None:
        if os.environ.get("ENCORD_SSH_KEY", "").strip():
            return "ENCORD_SSH_KEY"
        path = os.environ.get("ENCORD_SSH_KEY_FILE", "").strip()
        return f"ENCORD_SSH_KEY_FILE {path}" if path else "the runner's user_client"
    if settings.ssh_key_content is not None:
        return "ENCORD_SSH_KEY"
    return f"ENCORD_SSH_KEY_FILE {settings.ssh_key_file}"


def key_rejected_message() -> str:
    """One line for an Encord authentication failure: which key, which domain, and the two usual fixes."""
    import os

    domain = os.environ.get("ENCORD_DOMAIN", "").strip() or "the default domain"
    return (
        f"Encord ({domain}) rejected the key from {key_source()}: add its public key to your Encord account "
        "(`ssh-keygen -y -f KEYFILE` prints it), or set ENCORD_DOMAIN to your account's region"
    )


def _create_client(key: str, domain: str | None, *, source: str) -> EncordUserClient:
    from encord.user_client import EncordUserClient

    from runner_core.errors import SettingsError

    try:
        if domain is None:
            return EncordUserClient.create_with_ssh_private_key(
                ssh_private_key=key, user_agent_suffix=USER_AGENT_SUFFIX
            )
        return EncordUserClient.create_with_ssh_private_key(
            ssh_private_key=key, user_agent_suffix=USER_AGENT_SUFFIX, domain=domain
        )
    except (ValueError, TypeError) as exc:
        # Only the exception's type: the SDK's messages about a key may quote the key, and `from None` keeps it out
        # of every traceback too. The source and the fix are what a person needs.
        raise SettingsError(
            f"{source} is not a usable private key (the Encord SDK refused it: {type(exc).__name__}); it must be an "
            "unencrypted OpenSSH private key, e.g. from `ssh-keygen -t ed25519 -N ''`"
        ) from None


def clear_client_cache() -> None:
    """Forget every cached client (tests, key rotation)."""
    with _lock:
        _clients.clear()


__all__ = ["clear_client_cache", "get_user_client", "key_rejected_message", "key_source", "load_settings"]
