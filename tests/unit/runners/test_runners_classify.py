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
from runner_core.runners.classify import MAX_ERROR_CHARS, is_retryable, sanitise, short_reason

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
