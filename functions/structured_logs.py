"""One set of structured fields for both clouds: one line per task outcome, plus a cold-start flag.

AWS writes them with Powertools' Logger; GCP with `CloudLoggingFormatter` below (Cloud Logging reads `severity`,
`message` and `logging.googleapis.com/trace` from a JSON line on stdout). Fields are identical on both.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner_core.outcomes import MessageResult, QueueMessage, TaskOutcome

TASK_OUTCOME = "task outcome"
MESSAGE_REJECTED = "message rejected"

_cold_lock = threading.Lock()
_cold = True


def take_cold_start() -> bool:
    """True for the first invocation of this process, False afterwards."""
    global _cold
    with _cold_lock:
        cold, _cold = _cold, False
        return cold


def task_fields(task: TaskOutcome, message: QueueMessage, *, cold_start: bool) -> dict[str, Any]:
    """The fields of one task-outcome line: the core's outcome fields plus the transport's."""
    from functions._metrics import outcome_kind
    from runner_core.runners.task_outcomes import outcome_fields

    return {
        "event": "task_outcome",
        **outcome_fields(task),
        # moved / held / skipped_duplicate / skipped_not_at_stage / failed_retryable / failed_permanent: what the
        # metrics count (GCP's log-based metrics read this field).
        "kind": str(outcome_kind(task)),
        "message_id": message.message_id,
        "attempt": message.attempt,
        "max_attempts": message.max_attempts,
        "cold_start": cold_start,
    }


def message_fields(result: MessageResult, message: QueueMessage, *, cold_start: bool) -> dict[str, Any]:
    """The fields of a message-level rejection (nothing decodable in it, so no task fields)."""
    return {
        "event": "message_rejected",
        "message_id": message.message_id,
        "attempt": message.attempt,
        "max_attempts": message.max_attempts,
        "outcome": "failed",
        "retryable": False,
        "error": result.error,
        "cold_start": cold_start,
    }


def outcome_lines(
    results: list[MessageResult], messages: Mapping[str, QueueMessage], *, cold_start: bool
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(level, message, fields) for every task outcome and every rejected message of one invocation."""
    for result in results:
        message = messages[result.message_id]
        if result.error is not None and not result.tasks:
            yield logging.ERROR, MESSAGE_REJECTED, message_fields(result, message, cold_start=cold_start)
        for task in result.tasks:
            level = logging.INFO if task.ok else logging.WARNING
            yield level, TASK_OUTCOME, task_fields(task, message, cold_start=cold_start)


# --- secrets: every formatter passes its whole line (message, fields, exception, traceback) through `redact` ----


def redact_fields(value: Any) -> Any:
    """`value` with `redact` applied to every string in it, at any depth (dicts, lists, tuples); other objects
    become their redacted `str()`."""
    from runner_core.runners.classify import redact

    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: redact_fields(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_fields(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    # Anything else is printed with str() by the JSON encoders (Powertools' stack_trace holds the exception itself).
    return redact(str(value))


class RedactingFilter(logging.Filter):
    """For plain stdlib handlers (the local stack's, functions-framework's stderr): the message and the traceback
    text are redacted before any formatter sees them. Structured formatters redact their own fields as well."""

    def filter(self, record: logging.LogRecord) -> bool:
        from runner_core.runners.classify import redact

        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def redact_handlers(logger: logging.Logger) -> None:
    """Add `RedactingFilter` to every handler of `logger` that lacks one."""
    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


# --- GCP: Cloud Logging's structured JSON -------------------------------------------------------------------------

_trace: contextvars.ContextVar[tuple[str, str | None] | None] = contextvars.ContextVar("gcp_trace", default=None)
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def set_trace_from_header(value: str | None) -> None:
    """Remember this request's `X-Cloud-Trace-Context` ("TRACE_ID/SPAN_ID;o=1") for the lines it logs."""
    if not value:
        _trace.set(None)
        return
    trace_id, _, rest = value.partition("/")
    span_id = rest.split(";", 1)[0] or None
    _trace.set((trace_id, span_id) if trace_id else None)


class CloudLoggingFormatter(logging.Formatter):
    """A JSON line Cloud Logging parses: severity, message, time, trace, and every `extra=` field at top level."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        trace = _trace.get()
        if trace is not None:
            project = os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("GCP_PROJECT")
            trace_id, span_id = trace
            line["logging.googleapis.com/trace"] = f"projects/{project}/traces/{trace_id}" if project else trace_id
            if span_id:
                line["logging.googleapis.com/spanId"] = span_id
        # None fields are left out, as Powertools does on AWS, so both clouds print the same keys.
        line.update(
            {
                k: v
                for k, v in vars(record).items()
                if k not in _RECORD_ATTRS and not k.startswith("_") and v is not None
            }
        )
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(redact_fields(line), default=str)


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stdout` is at emit time (so captured output in tests sees it too)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def gcp_logger(name: str = "functions.gcp") -> logging.Logger:
    """The GCP entrypoints' logger: one JSON line per record on stdout, not propagated (no duplicate lines)."""
    logger = logging.getLogger(name)
    if not any(isinstance(h, _StdoutHandler) for h in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(CloudLoggingFormatter())
        handler.addFilter(RedactingFilter())
        logger.addHandler(handler)
        logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
        logger.propagate = False
    return logger
