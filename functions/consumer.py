"""The cloud-neutral middle of a consumer: hand messages to the runner, log each outcome, and return the core's
decision for each message (the consumer only maps it to its transport)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from functions.ledgers import attach_ledger
from functions.structured_logs import outcome_lines
from runner_core.disposition import Decision, decide, not_processed
from runner_core.outcomes import MessageResult, QueueMessage
from runner_core.protocols import RunnerTarget


class StructuredLogger(Protocol):
    """What both the stdlib logger (GCP) and Powertools' Logger (AWS) offer."""

    def info(self, msg: object, *args: object, extra: Mapping[str, object] | None = ...) -> None: ...

    def warning(self, msg: object, *args: object, extra: Mapping[str, object] | None = ...) -> None: ...

    def error(self, msg: object, *args: object, extra: Mapping[str, object] | None = ...) -> None: ...

    def exception(self, msg: object, *args: object, extra: Mapping[str, object] | None = ...) -> None: ...


def deadline_within(start: float, budget_s: float, *, margin_s: float) -> float:
    """A `time.monotonic()` deadline `budget_s` after `start`, less `margin_s` (RUNNER_DEADLINE_MARGIN_S; tasks not
    started by then retry). A short budget still gets half its time for work rather than none."""
    return start + budget_s - min(margin_s, budget_s / 2)


def _emit(logger: StructuredLogger, level: int, message: str, fields: dict[str, Any]) -> None:
    if level >= logging.ERROR:
        logger.error(message, extra=fields)
    elif level >= logging.WARNING:
        logger.warning(message, extra=fields)
    else:
        logger.info(message, extra=fields)


def process_messages(
    runner: RunnerTarget,
    messages: Sequence[QueueMessage],
    *,
    deadline: float | None,
    logger: StructuredLogger,
    cold_start: bool,
    observe: Callable[[Sequence[MessageResult]], None] | None = None,
) -> dict[str, Decision]:
    """Run every message through the runner in one call (so Encord requests batch) and decide each one.

    A runner that raises for the whole call (a bug, missing credentials) makes every message retry: nothing is lost,
    and the redrive policy dead-letters them if it keeps happening. `observe` sees the results of the runner call
    (one batch): the consumers turn them into metrics.
    """
    if not messages:
        return {}
    by_id = {message.message_id: message for message in messages}
    try:
        attach_ledger(runner)  # RUNNER_LEDGER_TABLE / RUNNER_LEDGER_COLLECTION: claim each task before running it
        results = runner.process(messages, deadline=deadline)
    except Exception as exc:
        logger.exception(
            "runner failed for the whole batch", extra={"event": "runner_error", "messages": len(messages)}
        )
        crash = f"runner error: {type(exc).__name__}"
        return {message_id: not_processed(crash) for message_id in by_id}
    for level, text, fields in outcome_lines(results, by_id, cold_start=cold_start):
        _emit(logger, level, text, fields)
    if observe is not None:
        try:
            observe(results)
        except Exception:  # metrics must never cost a message its outcome
            logger.exception("metrics failed for this batch", extra={"event": "metrics_error"})
    decisions = {
        result.message_id: decide(result, last_attempt=by_id[result.message_id].is_last_attempt) for result in results
    }
    for message_id in by_id.keys() - decisions.keys():  # defensive: the runner owes one result per message
        decisions[message_id] = not_processed("runner returned no result for this message")
    return decisions
