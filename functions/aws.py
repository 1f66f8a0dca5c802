"""AWS entrypoints: `consume` (SQS -> Lambda, partial batch responses) and `dispatch` (EventBridge schedule, or
Encord's signed webhook through a Lambda function URL).

Handlers: `functions.aws.consume`, `functions.aws.dispatch` and `functions.aws.webhook` (the webhook alone: the
public function URL's handler). The event source mapping must set
`function_response_types = ["ReportBatchItemFailures"]`.
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

# Deliberately eager, and before anything imports pydantic (runner_core does, through the encord SDK): Powertools'
# batch utility builds pydantic models for every batch event type (~15 ms, never used here) only when it finds
# pydantic already imported. Imported lazily inside `consume` it would always pay that on the first message.
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
    process_partial_response,
)

from functions import secrets
from functions._consume import Verdict, deadline_within, max_attempts, process_messages
from functions._disposition import Disposition
from functions._logging import redact_fields, take_cold_start
from functions._target import load_runner
from functions.errors import ConfigurationError, RetryDeliveryError
from runner_core.outcomes import QueueMessage

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

# Cold start: `consume` never loads the producer, the webhook or the publishers (`dispatch` imports them when it
# runs), and boto3 loads on the first AWS call (a dead-letter send, a secret, a publish).

QUEUE_URL_ENV = "RUNNER_QUEUE_URL"
DLQ_URL_ENV = "RUNNER_DLQ_URL"
MAX_QUEUE_DEPTH_ENV = "RUNNER_DISPATCH_MAX_QUEUE_DEPTH"
FIFO_GROUP_BLOCKED = "an earlier message of its FIFO group was not processed; it runs after that one"


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON line with every string field (message, `exception`, `stack_trace`, extras) redacted."""

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        return super().serialize(log=redact_fields(log))


logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "runner-core"), logger_formatter=RedactingFormatter())
# The shared modules log through the stdlib; give them the same JSON format and fields.
copy_config_to_registered_loggers(source_logger=logger, include={"functions", "runner_core"})


def _use_secret_key() -> None:
    """Hand the Secrets Manager key (if one is configured) to the core, which reads ENCORD_SSH_KEY.

    Cached with a TTL by Powertools; the core's client cache is keyed on the key's digest, so a rotated key
    gets a new client and an unchanged one reuses the warm client.
    """
    key = secrets.ssh_key_from_environment()
    if key is not None and os.environ.get("ENCORD_SSH_KEY") != key:
        os.environ["ENCORD_SSH_KEY"] = key


def _context_keys(context: Any, cold_start: bool) -> None:
    logger.append_keys(
        cold_start=cold_start,
        function_name=getattr(context, "function_name", None),
        function_request_id=getattr(context, "aws_request_id", None),
    )


def _deadline(context: Any) -> float | None:
    """A `time.monotonic()` deadline leaving a margin before Lambda's timeout (tasks not started by then retry)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    return deadline_within(time.monotonic(), float(remaining()) / 1000)


def _attributes(record: dict[str, Any]) -> dict[str, Any]:
    """The record's `attributes`, or {} when a hand-made or corrupted event holds something else there."""
    attributes = record.get("attributes")
    return attributes if isinstance(attributes, dict) else {}


def _queue_message(record: dict[str, Any], attempts: int) -> QueueMessage:
    attributes = _attributes(record)
    try:
        attempt = max(1, int(attributes.get("ApproximateReceiveCount", 1)))
    except (TypeError, ValueError):
        attempt = 1
    return QueueMessage(
        message_id=str(record.get("messageId", "")),
        body=str(record.get("body", "")),
        attempt=attempt,
        max_attempts=attempts,
    )


def _dead_letter(records: list[dict[str, Any]], verdicts: dict[str, Verdict], dlq_url: str) -> set[str]:
    """Send permanently failed records to the DLQ with the reason; returns the ids that are safely stored there."""
    from functions.publishers.sqs import is_fifo, sanitise_id, send_entries, sqs_client, string_attributes

    entries: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        verdict = verdicts[record["messageId"]]
        attributes = {
            "runner_failure_reason": verdict.reason or "failed permanently",
            "runner_source_message_id": record["messageId"],
            "runner_source_queue": str(record.get("eventSourceARN", "")),
            "runner_attempt": str(_attributes(record).get("ApproximateReceiveCount", "1"))[:16],
        }
        entry: dict[str, Any] = {
            "Id": str(index),
            "MessageBody": record.get("body") or "(empty body)",
            "MessageAttributes": string_attributes(attributes),
        }
        if is_fifo(dlq_url):
            group = str(_attributes(record).get("MessageGroupId") or "dead-letter")
            entry["MessageGroupId"] = sanitise_id(group)
            entry["MessageDeduplicationId"] = sanitise_id(record["messageId"])
        entries.append(entry)
    sent: set[str]
    errors: list[str]
    try:
        client = sqs_client()
    except Exception as exc:  # no region, bad endpoint: the records stay failed and the redrive policy takes them
        sent, errors = set(), [f"SQS client unavailable: {type(exc).__name__}"]
    else:
        sent, errors = send_entries(client, dlq_url, entries)
    if errors:
        logger.error("dead-letter send failed; leaving the records to the redrive policy", extra={"errors": errors})
    return {records[int(index)]["messageId"] for index in sent}


def consume(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS batch handler: every record's tasks go through the runner together; failures are reported per record."""
    cold_start = take_cold_start()
    _context_keys(context, cold_start)
    records: list[dict[str, Any]] = list(event.get("Records") or [])
    # FIFO records carry their MessageGroupId; the queue ARN's ".fifo" suffix is the fallback.
    fifo = any(
        "MessageGroupId" in _attributes(r) or str(r.get("eventSourceARN", "")).endswith(".fifo") for r in records
    )
    verdicts = _decide(records, context, fifo=fifo, cold_start=cold_start)

    dlq_url = os.environ.get(DLQ_URL_ENV, "").strip()
    dead_lettered: set[str] = set()
    permanent = [r for r in records if verdicts[r["messageId"]].disposition is Disposition.DEAD_LETTER]
    if dlq_url and permanent:
        dead_lettered = _dead_letter(permanent, verdicts, dlq_url)

    def record_handler(record: SQSRecord) -> str:
        verdict = verdicts[record.message_id]
        if verdict.disposition is Disposition.ACK or record.message_id in dead_lettered:
            return verdict.disposition.value
        raise RetryDeliveryError(verdict.reason or verdict.disposition.value)

    processor: BatchProcessor = (
        SqsFifoPartialProcessor(skip_group_on_error=True)
        if fifo
        else BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    )
    # A batch where every record failed is still a partial response, never an invocation error: an error would
    # make Lambda retry the whole batch and scale the event source mapping down.
    processor.raise_on_entire_batch_failure = False
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)


def _group_of(record: dict[str, Any]) -> str:
    return str(_attributes(record).get("MessageGroupId", ""))


def _fifo_rounds(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Round n holds the n-th record of every message group: each round still goes through the runner as one
    batch (Encord calls batch across groups), while a group's records run strictly one after another."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(_group_of(record), []).append(record)
    depth = max((len(members) for members in groups.values()), default=0)
    return [[members[n] for members in groups.values() if n < len(members)] for n in range(depth)]


def _process_fifo(
    runner: Any, records: list[dict[str, Any]], attempts: int, deadline: float | None, *, cold_start: bool
) -> dict[str, Verdict]:
    """FIFO order: once a record of a group is not acked, the group's later records do not run in this invocation
    (they are reported for redelivery, after the one that failed)."""
    verdicts: dict[str, Verdict] = {}
    stopped: set[str] = set()
    for round_ in _fifo_rounds(records):
        ready = [record for record in round_ if _group_of(record) not in stopped]
        for record in round_:
            if _group_of(record) in stopped:
                verdicts[record["messageId"]] = Verdict(Disposition.RETRY, FIFO_GROUP_BLOCKED)
                logger.info(
                    "message deferred",
                    extra={
                        "event": "message_deferred",
                        "message_id": record["messageId"],
                        "reason": FIFO_GROUP_BLOCKED,
                    },
                )
        decided = process_messages(
            runner,
            [_queue_message(record, attempts) for record in ready],
            deadline=deadline,
            logger=logger,
            cold_start=cold_start,
        )
        verdicts.update(decided)
        stopped |= {_group_of(r) for r in ready if decided[r["messageId"]].disposition is not Disposition.ACK}
    return verdicts


def _decide(records: list[dict[str, Any]], context: Any, *, fifo: bool, cold_start: bool) -> dict[str, Verdict]:
    """One verdict per record id. A function that cannot start (configuration, a user module that fails to import)
    makes every record retry: nothing is lost, and once fixed the records run, or the redrive policy takes them."""
    try:
        _use_secret_key()
        runner = load_runner()
        attempts = max_attempts()
        deadline = _deadline(context)
    except Exception as exc:
        reason = str(exc) if isinstance(exc, ConfigurationError) else f"function cannot start: {type(exc).__name__}"
        logger.exception("function cannot start; every record will be retried", extra={"reason": reason})
        return {str(r.get("messageId", "")): Verdict(Disposition.RETRY, reason) for r in records}
    if fifo:
        return _process_fifo(runner, records, attempts, deadline, cold_start=cold_start)
    messages = [_queue_message(record, attempts) for record in records]
    return process_messages(runner, messages, deadline=deadline, logger=logger, cold_start=cold_start)


# --- the producer ---------------------------------------------------------------------------------------------------


def _http_answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def _is_http_event(event: dict[str, Any]) -> bool:
    return isinstance(event.get("headers"), dict) and ("body" in event or "requestContext" in event)


def _sqs_publisher() -> Any:
    from functions.publishers.sqs import SqsPublisher

    queue_url = os.environ.get(QUEUE_URL_ENV, "").strip()
    if not queue_url:
        raise ConfigurationError(f"{QUEUE_URL_ENV} is not set: the SQS queue URL the dispatcher publishes to")
    return SqsPublisher(queue_url=queue_url)


def _http_request(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = event.get("body") or ""
    try:
        body = base64.b64decode(str(raw), validate=True) if event.get("isBase64Encoded") else str(raw).encode()
    except ValueError:  # binascii.Error: the signature cannot match a body nobody can read
        body = b""
    headers = {str(k): str(v) for k, v in (event.get("headers") or {}).items()}
    return body, headers


def dispatch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Schedule (EventBridge, or any direct invoke): publish every waiting task to RUNNER_QUEUE_URL.
    Function URL / API Gateway (event with headers and body): Encord's signed webhook for one stage."""
    from functions._dispatch import dispatch as run_dispatch
    from functions._dispatch import handle_webhook, parse_statuses, statuses_from_environment

    cold_start = take_cold_start()
    _context_keys(context, cold_start)
    _use_secret_key()
    runner = load_runner()
    publisher = _sqs_publisher()
    deadline = _deadline(context)
    if _is_http_event(event):
        body, headers = _http_request(event)
        answer = handle_webhook(
            body,
            headers,
            runner=runner,
            publisher=publisher,
            secret=secrets.webhook_secret(allow_arn=True),
            deadline=deadline,
        )
        return _http_answer(answer.status, answer.body)
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    requested = detail.get("statuses") if isinstance(detail, dict) else None
    statuses = parse_statuses(requested) if isinstance(requested, list) else statuses_from_environment()
    depth = queue_depth_above_watermark(publisher)
    if depth is not None:
        logger.info("queue depth %d is above the watermark: nothing listed", depth, extra={"event": "dispatch_skipped"})
        return {"destination": publisher.queue_url, "skipped": "queue depth above watermark", "queue_depth": depth}
    return run_dispatch(runner, publisher, statuses=statuses, deadline=deadline).as_dict()


def queue_depth_above_watermark(publisher: Any) -> int | None:
    """With RUNNER_DISPATCH_MAX_QUEUE_DEPTH set: the queue's visible depth when above it (skip listing: the
    consumers have plenty to do), else None. Approximate by nature, which is fine for a watermark."""
    from functions._consume import env_seconds
    from functions.publishers.sqs import sqs_client

    watermark = env_seconds(MAX_QUEUE_DEPTH_ENV)
    if watermark is None:
        return None
    client = publisher.client if publisher.client is not None else sqs_client()
    attributes = client.get_queue_attributes(
        QueueUrl=publisher.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    depth = int(attributes.get("ApproximateNumberOfMessages", 0))
    return depth if depth > watermark else None


def webhook(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Encord's signed webhook only (the public function URL's handler): never a schedule, whatever the event.

    The signature (and replay) is checked before the SSH key is read or the user's code is imported, so an
    unsigned flood costs one HMAC per request and no Encord call. No webhook secret configured: 500.
    """
    from functions._dispatch import act_on_webhook, check_webhook

    cold_start = take_cold_start()
    _context_keys(context, cold_start)
    if not _is_http_event(event):
        return _http_answer(400, {"error": "this function answers Encord's signed webhook requests only"})
    body, headers = _http_request(event)
    rejected = check_webhook(body, headers, secret=secrets.webhook_secret(allow_arn=True))
    if rejected is not None:
        return _http_answer(rejected.status, rejected.body)
    _use_secret_key()
    answer = act_on_webhook(body, runner=load_runner(), publisher=_sqs_publisher(), deadline=_deadline(context))
    return _http_answer(answer.status, answer.body)
