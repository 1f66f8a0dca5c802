"""AWS entrypoints: `consume` (SQS -> Lambda, partial batch responses) and `dispatch` (EventBridge schedule, or
Encord's signed webhook through a Lambda function URL).

Handlers: `functions.aws.consume` and `functions.aws.dispatch`. The event source mapping must set
`function_response_types = ["ReportBatchItemFailures"]`.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions import secrets
from functions.consumer import deadline_within, process_messages
from functions.errors import ConfigurationError
from functions.settings import FunctionSettings, function_settings
from functions.structured_logs import take_cold_start
from functions.target import load_runner
from runner_core.disposition import Decision, Disposition, not_processed
from runner_core.errors import ConfigurationError as CoreConfigurationError
from runner_core.outcomes import QueueMessage

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

    from runner_core.protocols import RunnerTarget

# Cold start: `consume` never loads the producer, the webhook or the publishers (`dispatch` imports them when it
# runs), and boto3 loads on the first AWS call (a dead-letter send, a secret, a publish).

QUEUE_URL_ENV = "RUNNER_QUEUE_URL"
FIFO_GROUP_BLOCKED = "an earlier message of its FIFO group was not processed; it runs after that one"

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "runner-core"))
# The shared modules log through the stdlib; give them the same JSON format and fields.
copy_config_to_registered_loggers(source_logger=logger, include={"functions", "runner_core"})


def _runner(settings: FunctionSettings) -> RunnerTarget:
    """The user's runner, using the client for the Secrets Manager key when one is configured."""
    runner = load_runner(settings.target)
    client = secrets.client_from_secret(settings)
    if client is not None:
        runner.use_client(client)
    return runner


def _context_keys(context: Any, cold_start: bool) -> None:
    logger.append_keys(
        cold_start=cold_start,
        function_name=getattr(context, "function_name", None),
        function_request_id=getattr(context, "aws_request_id", None),
    )


def _deadline(context: Any, *, margin_s: float) -> float | None:
    """A `time.monotonic()` deadline leaving a margin before Lambda's timeout (tasks not started by then retry)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    return deadline_within(time.monotonic(), float(remaining()) / 1000, margin_s=margin_s)


def _attempt(record: SQSRecord) -> int:
    try:
        return max(1, int(record.attributes.approximate_receive_count))
    except (TypeError, ValueError):
        return 1


def _queue_message(record: SQSRecord, attempts: int) -> QueueMessage:
    return QueueMessage(
        message_id=record.message_id, body=record.body or "", attempt=_attempt(record), max_attempts=attempts
    )


def _dead_letter(records: list[SQSRecord], decisions: dict[str, Decision], dlq_url: str) -> set[str]:
    """Send permanently failed records to the DLQ with the reason; returns the ids that are safely stored there."""
    from functions.publishers.dead_letter import SOURCE_QUEUE, DeadLetter
    from functions.publishers.sqs import send_dead_letters

    letters = [
        (
            DeadLetter(
                body=record.body or "",
                message_id=record.message_id,
                reason=decisions[record.message_id].reason,
                attempt=_attempt(record),
                source_key=SOURCE_QUEUE,
                source=record.event_source_arn or "",
            ),
            record.attributes.message_group_id,
        )
        for record in records
    ]
    sent, errors = send_dead_letters(dlq_url, letters)
    if errors:
        logger.error("dead-letter send failed; leaving the records to the redrive policy", extra={"errors": errors})
    return sent


def consume(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    """SQS batch handler: every record's tasks go through the runner together; failures are reported per record.

    The partial batch response is built here directly rather than through Powertools' BatchProcessor: the runner
    handles the whole batch in one call (so Encord requests batch across records), while the processor's model is a
    handler per record. A batch where every record failed is still a partial response, never an invocation error
    (an error would make Lambda retry the whole batch and scale the event source mapping down).
    """
    cold_start = take_cold_start()
    _context_keys(context, cold_start)
    records = [SQSRecord(raw) for raw in event.get("Records") or []]
    # FIFO records carry their MessageGroupId; the queue ARN's ".fifo" suffix is the fallback.
    fifo = any(r.attributes.message_group_id or (r.event_source_arn or "").endswith(".fifo") for r in records)
    decisions, dlq_url = _decide(records, context, fifo=fifo, cold_start=cold_start)

    dead = [r for r in records if decisions[r.message_id].disposition is Disposition.DEAD_LETTER]
    dead_lettered = _dead_letter(dead, decisions, dlq_url) if dlq_url and dead else set()
    failed = [
        r.message_id
        for r in records
        if decisions[r.message_id].disposition is not Disposition.ACK and r.message_id not in dead_lettered
    ]
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def _process_fifo(
    runner: RunnerTarget, records: list[SQSRecord], attempts: int, deadline: float | None, *, cold_start: bool
) -> dict[str, Decision]:
    """FIFO order. Round n holds the n-th record of every message group: each round goes through the runner as one
    batch (Encord calls batch across groups), while a group's records run strictly one after another. Once a record
    of a group is not acked, the group's later records do not run in this invocation (they are reported for
    redelivery, after the one that failed)."""
    groups: dict[str, list[SQSRecord]] = {}
    for record in records:
        groups.setdefault(record.attributes.message_group_id or "", []).append(record)
    depth = max((len(members) for members in groups.values()), default=0)
    decisions: dict[str, Decision] = {}
    stopped: set[str] = set()
    for n in range(depth):
        ready: list[SQSRecord] = []
        for group, members in groups.items():
            if n >= len(members):
                continue
            if group in stopped:
                decisions[members[n].message_id] = not_processed(FIFO_GROUP_BLOCKED)
                logger.info(
                    "message deferred",
                    extra={
                        "event": "message_deferred",
                        "message_id": members[n].message_id,
                        "reason": FIFO_GROUP_BLOCKED,
                    },
                )
            else:
                ready.append(members[n])
        decided = process_messages(
            runner,
            [_queue_message(record, attempts) for record in ready],
            deadline=deadline,
            logger=logger,
            cold_start=cold_start,
        )
        decisions.update(decided)
        stopped |= {
            r.attributes.message_group_id or ""
            for r in ready
            if decided[r.message_id].disposition is not Disposition.ACK
        }
    return decisions


def _decide(records: list[SQSRecord], context: Any, *, fifo: bool, cold_start: bool) -> tuple[dict[str, Decision], str]:
    """The core's decision per record id, and the dead-letter queue URL. A function that cannot start
    (configuration, a user module that fails to import) makes every record retry: nothing is lost, and once fixed
    the records run, or the redrive policy takes them."""
    try:
        settings = function_settings()
        runner = _runner(settings)
        deadline = _deadline(context, margin_s=settings.deadline_margin_s)
    except Exception as exc:
        # Configuration errors (ours and the core's SettingsError) are written for people and never hold a secret.
        reason = str(exc) if isinstance(exc, CoreConfigurationError) else f"function cannot start: {type(exc).__name__}"
        logger.exception("function cannot start; every record will be retried", extra={"reason": reason})
        return {r.message_id: not_processed(reason) for r in records}, ""
    if fifo:
        decisions = _process_fifo(runner, records, settings.max_attempts, deadline, cold_start=cold_start)
    else:
        messages = [_queue_message(record, settings.max_attempts) for record in records]
        decisions = process_messages(runner, messages, deadline=deadline, logger=logger, cold_start=cold_start)
    return decisions, settings.dlq_url


# --- the producer ---------------------------------------------------------------------------------------------------


def dispatch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Schedule (EventBridge, or any direct invoke): publish every waiting task to RUNNER_QUEUE_URL.
    Function URL / API Gateway (event with headers and body): Encord's signed webhook for one stage."""
    from functions import lambda_http
    from functions.publishers.sqs import SqsPublisher
    from functions.trigger import handle_webhook, parse_statuses, publish_waiting_tasks, statuses_from_environment

    cold_start = take_cold_start()
    _context_keys(context, cold_start)
    settings = function_settings()
    runner = _runner(settings)
    queue_url = settings.queue_url
    if not queue_url:
        raise ConfigurationError(f"{QUEUE_URL_ENV} is not set: the SQS queue URL the dispatcher publishes to")
    publisher = SqsPublisher(queue_url=queue_url)
    if lambda_http.is_http_event(event):
        body, headers = lambda_http.request(event)
        secret = secrets.webhook_secret(settings, allow_arn=True)
        return lambda_http.response(handle_webhook(body, headers, runner=runner, publisher=publisher, secret=secret))
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    requested = detail.get("statuses") if isinstance(detail, dict) else None
    statuses = parse_statuses(requested) if isinstance(requested, list) else statuses_from_environment(settings)
    return publish_waiting_tasks(runner, publisher, statuses=statuses).as_dict()
