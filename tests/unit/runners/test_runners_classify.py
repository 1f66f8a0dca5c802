from __future__ import annotations

import pytest
import requests
from encord.exceptions import (
    InvalidArgumentsError,
    RateLimitExceededError,
    RequestException,
    UnknownException,
)

from runner_core.di.errors import DependencyDefinitionError, DependencyResolutionError
from runner_core.errors import (
    MessageDecodeError,
    PermanentError,
    ProjectError,
    StageNotFoundError,
    UnknownPathwayError,
)
from runner_core.runners.classify import MAX_ERROR_CHARS, is_retryable, redact, sanitise, short_reason

RETRYABLE: list[BaseException] = [
    UnknownException("503 Service Unavailable"),
    RequestException("Request session.send failed"),
    RateLimitExceededError(retry_after=1),
    requests.Timeout("read timed out"),
    requests.ConnectionError("connection reset"),
    OSError("download failed"),
    RuntimeError("the agent's own bug"),
]
PERMANENT: list[BaseException] = [
    PermanentError("bad data, never retry"),
    MessageDecodeError("message body is empty"),
    ProjectError("project x not found"),
    StageNotFoundError("no stage"),
    UnknownPathwayError("no pathway 'nope'"),
    DependencyDefinitionError("cannot inject"),
]


@pytest.mark.parametrize("exc", RETRYABLE, ids=lambda e: type(e).__name__)
def test_retryable(exc: BaseException) -> None:
    assert is_retryable(exc)


@pytest.mark.parametrize("exc", PERMANENT, ids=lambda e: type(e).__name__)
def test_permanent(exc: BaseException) -> None:
    assert not is_retryable(exc)


def _resolution_error(cause: BaseException) -> DependencyResolutionError:
    try:
        raise DependencyResolutionError("dependency dep_x failed", dependency="dep_x") from cause
    except DependencyResolutionError as exc:
        return exc


def test_a_dependency_failure_is_classified_by_its_cause() -> None:
    assert is_retryable(_resolution_error(requests.Timeout("slow")))
    assert not is_retryable(_resolution_error(PermanentError("corrupt file")))
    assert "Timeout: slow" in short_reason(_resolution_error(requests.Timeout("slow")))


def test_reason_is_one_short_line_with_the_type() -> None:
    reason = short_reason(ValueError("first line\nsecond line\n" + "x" * 1000))
    assert reason == "ValueError: first line"
    long_reason = short_reason(ValueError("y" * 1000))
    assert len(long_reason) <= MAX_ERROR_CHARS
    assert short_reason(InvalidArgumentsError("")) == "InvalidArgumentsError"


def test_secrets_are_redacted() -> None:
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAB3NzaC1lZDI1NTE5\n-----END OPENSSH PRIVATE KEY-----"
    assert "AAAAB3" not in sanitise(f"bad key {key} here")
    assert "[redacted key]" in sanitise(f"bad key {key}")
    text = sanitise("GET http://x/files/a.png?sig=abcdef&token=zzz Authorization: Ed25519 pub:sig")
    assert "abcdef" not in text
    assert "zzz" not in text
    assert "Ed25519" not in text


def test_sdk_auth_headers_and_url_credentials_are_redacted() -> None:
    signature = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    header = f"Authorization: 3b6a27bcceb6a42d62a3a8d02a6f0d73:{signature}"
    assert "9f86d081" not in sanitise(f"request failed, headers {header}")
    text = sanitise("cannot reach https://agent:hunter2@proxy.internal:8080/v2/public")
    assert "hunter2" not in text
    assert "https://[redacted]@proxy.internal:8080/v2/public" in text


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "eyJhbGciOiJIUzI1NiJ9"),
        ('{"token": "tok-5f1e2d3c4b5a", "id": 3}', "tok-5f1e2d3c4b5a"),
        ("{'access_token': 'at-998877'}", "at-998877"),
        ("connect failed: password=hunter2&user=bob", "hunter2"),
        ("GET /v1?api_key=AKIA1234567890&page=2", "AKIA1234567890"),
        ("ENCORD_WEBHOOK_SECRET=whsec-0123 was set", "whsec-0123"),
        ('"client_secret": "cs-42"', "cs-42"),
        ("Provided key [" + "QUJD" * 20 + "] is not an Ed25519 private key", "QUJD" * 20),
    ],
    ids=[
        "bearer",
        "quoted_token",
        "quoted_access_token",
        "password",
        "api_key",
        "env_secret",
        "client_secret",
        "unarmoured_key",
    ],
)
def test_each_kind_of_secret_is_redacted(text: str, secret: str) -> None:
    assert secret not in sanitise(text)
    assert secret not in redact(text)
    assert "[redacted" in redact(text)


def test_redact_keeps_the_lines_of_a_traceback() -> None:
    traceback = 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: password=hunter2'
    redacted = redact(traceback)
    assert redacted.splitlines()[:2] == traceback.splitlines()[:2]
    assert redacted.endswith("ValueError: password=[redacted]")


def test_plain_reasons_are_left_alone() -> None:
    for text in ("tasks[2].data_hash is not a UUID", "KeyError: 'x'", "message_id: 42", "stage abc has no agent"):
        assert redact(text) == text
