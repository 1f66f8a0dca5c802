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

# Names whose value is a secret, alone or as the end of a longer name (`webhook_secret`, `ENCORD_SSH_KEY`).
_SECRET_NAMES = (
    r"authorization|token|password|passwd|pwd|secret|api[_-]?key|apikey|access[_-]?key|private[_-]?key|ssh[_-]?key"
    r"|credentials?|signature|sig|x-amz-[a-z-]+|key"
)
# PEM/OpenSSH private keys, bearer tokens, `name=value` / `"name": "value"` secrets, signed-URL signatures, URL
# credentials and long base64 runs (a key without its armour) must never reach a result or a log line.
_KEY_BLOCK = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)", re.DOTALL)
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=-]+")
_NAMED = re.compile(
    rf"""(?i)(["']?\b[a-z0-9_.-]*?(?:{_SECRET_NAMES})["']?)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&,;'"}}\]]+)"""
)
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s:@]+:[^/\s@]+)@")
_BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{64,}={0,2}")


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
    """`redact`, then one line of at most MAX_ERROR_CHARS characters (a reason for a result or an attribute)."""
    text = " ".join(redact(text).split())
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 1] + "…"
    return text


def redact(text: str) -> str:
    """`text` with every secret-looking part replaced, and otherwise unchanged (tracebacks keep their lines)."""
    text = _KEY_BLOCK.sub("[redacted key]", text)
    text = _BEARER.sub(r"\1\2[redacted]", text)
    text = _NAMED.sub(_redact_value, text)
    text = _URL_CREDENTIALS.sub(r"\1[redacted]@", text)
    return _BASE64_RUN.sub("[redacted]", text)


def _redact_value(match: re.Match[str]) -> str:
    value = match.group(3)
    quote = value[0] if value[:1] in {'"', "'"} else ""
    return f"{match.group(1)}{match.group(2)}{quote}[redacted]{quote}"


def _message_of(exc: BaseException) -> str:
    # Encord exceptions append their request context (timestamps, ids) to str(); the message alone is the reason.
    message = getattr(exc, "message", None)
    if isinstance(message, str) and hasattr(exc, "context"):
        return message.strip()
    return str(exc).strip()


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else ""


__all__ = ["is_retryable", "redact", "sanitise", "short_reason"]
