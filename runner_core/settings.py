"""Settings read from the environment: Encord credentials and domain (as encord-agents), and queue limits."""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runner_core.errors import SettingsError

logger = logging.getLogger("runner_core")


class EncordSettings(BaseSettings):
    """`ENCORD_SSH_KEY` (key content), `ENCORD_SSH_KEY_FILE` (path to it) and `ENCORD_DOMAIN` (API domain).

    At least one key variable is required. When both are set, the content wins and a warning is logged.
    Errors never contain the key: the key is a `SecretStr` and validation errors hide their input.
    """

    model_config = SettingsConfigDict(env_prefix="ENCORD_", extra="ignore", hide_input_in_errors=True)

    ssh_key_file: Path | None = Field(default=None, description="Path to the private key (ENCORD_SSH_KEY_FILE).")
    ssh_key_content: SecretStr | None = Field(
        default=None,
        validation_alias="ENCORD_SSH_KEY",
        description="The private key itself (ENCORD_SSH_KEY).",
    )
    domain: str | None = Field(default=None, description="Encord API domain, e.g. https://api.us.encord.com.")

    @field_validator("ssh_key_file", mode="before")
    @classmethod
    def _blank_file_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("ssh_key_content", mode="before")
    @classmethod
    def _blank_content_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("domain", mode="before")
    @classmethod
    def _normalise_domain(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().rstrip("/")
            return value or None
        return value

    def model_post_init(self, context: object, /) -> None:
        # Raised outside pydantic's ValueError handling on purpose: a SettingsError reaches the caller as itself,
        # with a message written for a person and free of the key.
        if self.ssh_key_file is not None:
            self.ssh_key_file = self.ssh_key_file.expanduser()
            if not self.ssh_key_file.is_file():
                raise SettingsError(f"ENCORD_SSH_KEY_FILE points to {str(self.ssh_key_file)!r}, which is not a file")
        if self.ssh_key_content is not None and _looks_like_existing_path(self.ssh_key_content.get_secret_value()):
            raise SettingsError(
                "ENCORD_SSH_KEY holds a path to a file; put the key's content there, or set ENCORD_SSH_KEY_FILE"
            )
        if self.ssh_key_file is None and self.ssh_key_content is None:
            raise SettingsError("no Encord key configured: set ENCORD_SSH_KEY (content) or ENCORD_SSH_KEY_FILE (path)")
        if self.ssh_key_file is not None and self.ssh_key_content is not None:
            logger.warning("both ENCORD_SSH_KEY and ENCORD_SSH_KEY_FILE are set; using ENCORD_SSH_KEY")
        _ = self.ssh_key  # checks the key's type and format now, before any SDK call could quote it

    @property
    def ssh_key(self) -> str:
        """The key (from ENCORD_SSH_KEY, else read from ENCORD_SSH_KEY_FILE) in the OpenSSH format the SDK reads.
        Read-only: never cached here, so a rotated file is read again."""
        if self.ssh_key_content is not None:
            return encord_key(self.ssh_key_content.get_secret_value(), variable="ENCORD_SSH_KEY")
        assert self.ssh_key_file is not None  # guaranteed by model_post_init
        try:
            text = self.ssh_key_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise SettingsError(f"cannot read ENCORD_SSH_KEY_FILE {str(self.ssh_key_file)!r}: {reason}") from None
        return encord_key(text, variable="ENCORD_SSH_KEY_FILE")


ACCEPTED_KEYS = "Encord accepts an unencrypted Ed25519 private key, in OpenSSH or PEM format"


def encord_key(text: str, *, variable: str) -> str:
    """`text` as an OpenSSH Ed25519 private key, or a one-line `SettingsError` naming the accepted type.

    Checked here because the SDK's own error for another key type quotes the whole key, and it would then reach
    every log that prints the exception. No error raised here contains any part of `text`.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = text.strip().encode("utf-8", "replace")
    try:
        if b"-----BEGIN OPENSSH PRIVATE KEY-----" in data:
            key: object = serialization.load_ssh_private_key(data, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # cryptography's signal for "encrypted, and no password given"
        raise SettingsError(f"{variable} holds a passphrase-protected key; {ACCEPTED_KEYS}") from None
    except (ValueError, UnsupportedAlgorithm):
        raise SettingsError(f"{variable} is not a private key this runner can read; {ACCEPTED_KEYS}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SettingsError(f"{variable} holds {_key_kind(key)} key; {ACCEPTED_KEYS}")
    if b"-----BEGIN OPENSSH PRIVATE KEY-----" in data:
        return text  # already what the SDK reads; unchanged, so the client cache's digest of it stays stable
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode("ascii")


def _key_kind(key: object) -> str:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

    if isinstance(key, rsa.RSAPrivateKey):
        return "an RSA"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "an ECDSA"
    if isinstance(key, dsa.DSAPrivateKey):
        return "a DSA"
    return "another type of"


def _looks_like_existing_path(value: str) -> bool:
    if "\n" in value or len(value) > 4096:
        return False
    try:
        return Path(value).expanduser().exists()
    except (OSError, ValueError):
        return False


__all__ = ["ACCEPTED_KEYS", "EncordSettings", "encord_key"]


class QueueSettings(BaseSettings):
    """Limits a QueueRunner applies to what arrives from a queue (`RUNNER_` variables)."""

    model_config = SettingsConfigDict(env_prefix="RUNNER_", extra="ignore")

    max_message_bytes: int = Field(
        default=256 * 1024,
        gt=0,
        description="For bodies whose transport states no limit (the `@runner.stage` JSON wrapper): a larger body "
        "is rejected as permanent before it is parsed. The cloud consumers pass their transport's own limit instead "
        "(QueueMessage.max_bytes), so whatever their producer builds is accepted.",
    )
