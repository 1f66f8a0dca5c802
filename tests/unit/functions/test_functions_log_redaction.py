"""Every formatter redacts the exception text it prints (message and traceback), so a future SDK message that
quotes a key cannot leak it: Powertools (AWS), Cloud Logging JSON (GCP) and plain stdlib handlers (stderr)."""

from __future__ import annotations

import io
import logging
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from functions import aws
from functions.structured_logs import CloudLoggingFormatter, RedactingFilter


def _rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode("ascii")


def _record_of_leaky_exception(key: str) -> logging.LogRecord:
    try:
        raise ValueError(f"Provided key [{key}] is not an Ed25519 private key")
    except ValueError:
        exc_info = sys.exc_info()
    return logging.LogRecord("functions", logging.ERROR, __file__, 1, "failed with %s", (key,), exc_info)


def _body_lines(key: str) -> list[str]:
    return [line for line in key.splitlines() if line and not line.startswith("-----")]


def test_every_formatter_redacts_message_and_traceback() -> None:
    key = _rsa_pem()
    rendered = {
        "powertools": aws.logger.registered_formatter.format(_record_of_leaky_exception(key)),
        "cloud_logging": CloudLoggingFormatter().format(_record_of_leaky_exception(key)),
    }
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    record = _record_of_leaky_exception(key)
    assert handler.filter(record)
    handler.emit(record)
    rendered["stdlib"] = stream.getvalue()
    for name, text in rendered.items():
        assert "ValueError" in text, name  # the exception is still there...
        assert "[redacted key]" in text, name
        leaked = [line for line in _body_lines(key) if line in text]
        assert leaked == [], name  # ...without a line of the key
