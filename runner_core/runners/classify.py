"""Error classification: may a later attempt pass, and what short reason may leave the process.

This classifies one exception (a fact on the task's outcome); what the transport does with a message is decided
from the outcomes by `runner_core.disposition.decide`.

Retryable: Encord 429/5xx/timeouts/connection errors, download failures, and any agent exception by default.
Permanent: `runner_core.errors.PermanentError` (malformed message, unknown project/stage/pathway, or an agent that
raises it to say "never retry") and signatures that cannot be injected.
"""

from __future__ import annotations

import re

from runner_core.di.errors import DependencyDefinitionError, DependencyResolutionError, DependencyTeardownError
from runner_core.errors import PermanentError, RetryableError

MAX_ERROR_CHARS = 300

# PEM/OpenSSH private keys, bearer tokens and signed-URL signatures must never reach a result or a log field.
_SECRET_PATTERNS = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL),
    re.compile(r"(?i)\b(authorization|bearer|token|signature|sig|x-amz-[a-z-]+|key)([=:]\s*)[^\s&,;'\"]+"),
    re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s:@]+:[^/\s@]+)@"),  # credentials in a URL
)


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, DependencyResolutionError | DependencyTeardownError) and exc.original is not None:
        return is_retryable(exc.original)
    if isinstance(exc, PermanentError | DependencyDefinitionError):
        return False
    if isinstance(exc, RetryableError):
        return True
    # Everything else (Encord rate limits and 5xx, requests timeouts and connection errors, download errors, and the
    # agent's own exceptions) may pass on a later attempt; the queue's max attempts bound the cost.
    return True


def short_reason(exc: BaseException) -> str:
    """`Type: first line of the message`, without secrets, at most MAX_ERROR_CHARS characters."""
    text = _message_of(exc)
    if isinstance(exc, DependencyResolutionError | DependencyTeardownError) and exc.original is not None:
        text = f"{text} ({type(exc.original).__name__}: {_first_line(_message_of(exc.original))})"
    reason = f"{type(exc).__name__}: {_first_line(text)}" if text else type(exc).__name__
    return sanitise(reason)


def sanitise(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(_redact, text)
    text = " ".join(text.split())
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 1] + "…"
    return text


def _redact(match: re.Match[str]) -> str:
    if match.re is _SECRET_PATTERNS[0]:
        return "[redacted key]"
    if match.re is _SECRET_PATTERNS[2]:
        return f"{match.group(1)}[redacted]@"
    return f"{match.group(1)}{match.group(2)}[redacted]"


def _message_of(exc: BaseException) -> str:
    # Encord exceptions append their request context (timestamps, ids) to str(); the message alone is the reason.
    message = getattr(exc, "message", None)
    if isinstance(message, str) and hasattr(exc, "context"):
        return message.strip()
    return str(exc).strip()


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else ""


__all__ = ["is_retryable", "sanitise", "short_reason"]
