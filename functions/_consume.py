"""The cloud-neutral middle of a consumer: hand messages to the runner, log each outcome, decide each message."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from functions._disposition import Disposition, disposition_of, failure_reason
from functions._logging import outcome_lines
from functions.errors import ConfigurationError
from functions.ledgers import attach_ledger
from runner_core.outcomes import MessageResult, QueueMessage

MAX_ATTEMPTS_ENV = "RUNNER_MAX_ATTEMPTS"
DEFAULT_MAX_ATTEMPTS = 5  # the default of SQS guidance (maxReceiveCount) and of Pub/Sub's max_delivery_attempts
DEADLINE_MARGIN_ENV = "RUNNER_DEADLINE_MARGIN_S"
DEFAULT_DEADLINE_MARGIN_S = 10.0


class StructuredLogger(Protocol):
    """What both the stdlib logger (GCP) and Powertools' Logger (AWS) offer."""

    def info(self, msg: object, *args: object, extra: Mapping[str, object] | None = ...) -> None: ...

    def warning(self, msg: object, *args: object, extra: Mapping[str, object] | None = ...) -> None: ...

    def error(self, msg: object, *args: object, extra: Mapping[str, object] | None = ...) -> None: ...

    def exception(self, msg: object, *args: object, extra: Mapping[str, object] | None = ...) -> None: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with one message, and why (the reason goes to dead-letter attributes and logs, never a secret)."""

    disposition: Disposition
    reason: str | None = None
    result: MessageResult | None = None


def max_attempts() -> int:
    raw = os.environ.get(MAX_ATTEMPTS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_ATTEMPTS
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{MAX_ATTEMPTS_ENV}={raw!r} is not a whole number") from None
    if value < 1:
        raise ConfigurationError(f"{MAX_ATTEMPTS_ENV} must be at least 1, got {value}")
    return value


def env_seconds(name: str) -> float | None:
    """A number of seconds from the environment; None when unset or blank."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number of seconds") from None


def deadline_within(start: float, budget_s: float) -> float:
    """A `time.monotonic()` deadline `budget_s` after `start`, less `RUNNER_DEADLINE_MARGIN_S` (tasks not started by
    then retry). A short budget still gets half its time for work rather than none."""
    margin = env_seconds(DEADLINE_MARGIN_ENV)
    return start + budget_s - min(DEFAULT_DEADLINE_MARGIN_S if margin is None else margin, budget_s / 2)


def _emit(logger: StructuredLogger, level: int, message: str, fields: dict[str, Any]) -> None:
    if level >= logging.ERROR:
        logger.error(message, extra=fields)
    elif level >= logging.WARNING:
        logger.warning(message, extra=fields)
    else:
        logger.info(message, extra=fields)


def process_messages(
    runner: Any,
    messages: Sequence[QueueMessage],
    *,
    deadline: float | None,
    logger: StructuredLogger,
    cold_start: bool,
) -> dict[str, Verdict]:
    """Run every message through the runner in one call (so Encord requests batch) and decide each one.

    A runner that raises for the whole call (a bug, missing credentials) makes every message retry: nothing is lost,
    and the redrive policy dead-letters them if it keeps happening.
    """
    if not messages:
        return {}
    by_id = {message.message_id: message for message in messages}
    try:
        attach_ledger(runner)  # RUNNER_LEDGER_TABLE / RUNNER_LEDGER_COLLECTION: claim each task before running it
        results: list[MessageResult] = runner.process(messages, deadline=deadline)
    except Exception as exc:
        logger.exception(
            "runner failed for the whole batch", extra={"event": "runner_error", "messages": len(messages)}
        )
        crash = f"runner error: {type(exc).__name__}"
        return {message_id: Verdict(Disposition.RETRY, crash) for message_id in by_id}
    for level, text, fields in outcome_lines(results, by_id, cold_start=cold_start):
        _emit(logger, level, text, fields)
    verdicts: dict[str, Verdict] = {}
    for result in results:
        disposition = disposition_of(result)
        reason = None if disposition is Disposition.ACK else failure_reason(result)
        verdicts[result.message_id] = Verdict(disposition, reason, result)
    for message_id in by_id.keys() - verdicts.keys():  # defensive: the runner owes one result per message
        verdicts[message_id] = Verdict(Disposition.RETRY, "runner returned no result for this message")
    return verdicts
