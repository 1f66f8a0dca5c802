"""GCP entrypoints (functions-framework): `consume`, `consume_http` and `dispatch`.

- `consume` (signature type `cloudevent`): Pub/Sub messages as binary or structured CloudEvents (Eventarc), or a
  raw push body, which functions-framework converts. The conversion drops `deliveryAttempt`, so `consume` reads it
  from the raw request when there is one.
- `consume_http` (signature type `http`): the raw push body of a push subscription you own (the recommended
  deployment: it carries `deliveryAttempt`, and you set the dead-letter policy and ack deadline yourself).
- `dispatch` (signature type `http`): Cloud Scheduler, or Encord's signed webhook.
- `webhook` (signature type `http`): Encord's signed webhook only (the public function: no unsigned path).

Ack/nack: return normally (2xx) when every task moved, held or skipped; raise / answer 500 when every task failed
retryably; a permanent failure is published to RUNNER_DEAD_LETTER_TOPIC with its reason and acked. A message whose
tasks failed only in part sends back just those tasks (`functions.pubsub_batches`): republished to RUNNER_TOPIC
with their attempt count, or dead-lettered once they have none left; the original is acked.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import flask
import functions_framework
from flask.logging import default_handler

from functions import secrets
from functions._metrics import UNKNOWN, stage_of
from functions.consumer import deadline_within, process_messages
from functions.errors import ConfigurationError, RetryDeliveryError, TransportDecodeError
from functions.publishers.dead_letter import FAILURE_REASON
from functions.publishers.pubsub import MAX_MESSAGE_BYTES as PUBSUB_MAX_MESSAGE_BYTES
from functions.pubsub_batches import PRIOR_ATTEMPTS, Split, attempt_of, split
from functions.settings import FunctionSettings, function_settings
from functions.structured_logs import (
    RedactingFilter,
    gcp_logger,
    redact_handlers,
    set_trace_from_header,
    take_cold_start,
)
from functions.target import load_runner
from runner_core.disposition import Decision, Disposition
from runner_core.outcomes import MessageResult, QueueMessage

if TYPE_CHECKING:
    from functions.publishers.pubsub import PubSubPublisher

# Cold start: functions-framework has imported flask and itself before this module, so they cost nothing here.
# The producer, the webhook and google-cloud-pubsub load when a handler first needs them (`consume` never loads
# the producer; google-cloud-pubsub loads on the first publish).

TOPIC_ENV = "RUNNER_TOPIC"

logger = gcp_logger("functions")
# The core's records (a dependency's warning, an instance-scoped dependency's creation) in the same JSON lines, as
# the AWS entrypoints give them Powertools' format.
gcp_logger("runner_core")
# What functions-framework and Flask print on stderr (an unhandled exception's traceback) is redacted too.
default_handler.addFilter(RedactingFilter())
redact_handlers(logging.getLogger())


@dataclass(frozen=True, slots=True)
class PushedMessage:
    """One Pub/Sub message as delivered, whatever the wrapping."""

    message_id: str
    data: bytes
    attributes: dict[str, str]
    delivery_attempt: int | None = None
    subscription: str | None = None
    ordering_key: str | None = None


def _deadline(started: float, settings: FunctionSettings) -> float | None:
    """Cloud Functions has no remaining-time API: RUNNER_FUNCTION_TIMEOUT_S (the deployed timeout) stands in."""
    timeout = settings.function_timeout_s
    return None if timeout is None else deadline_within(started, timeout, margin_s=settings.deadline_margin_s)


def pushed_message(payload: Mapping[str, Any], *, fallback_id: str | None = None) -> PushedMessage:
    """Read `{"message": {...}, "subscription": ..., "deliveryAttempt": n}` (push body or CloudEvent data)."""
    message = payload.get("message")
    if not isinstance(message, Mapping):
        raise TransportDecodeError("Pub/Sub payload has no 'message' object")
    message_id = message.get("messageId") or message.get("message_id") or fallback_id
    if not message_id:
        raise TransportDecodeError("Pub/Sub message has no messageId")
    raw = message.get("data") or ""
    try:
        data = base64.b64decode(raw, validate=True) if raw else b""
    except (binascii.Error, ValueError, TypeError):
        # Not base64: an undecodable body is the runner's to reject (permanently), with the message id kept.
        data = str(raw).encode()
    attributes = message.get("attributes") or {}
    attempt = payload.get("deliveryAttempt")
    return PushedMessage(
        message_id=str(message_id),
        data=data,
        attributes={str(k): str(v) for k, v in attributes.items()} if isinstance(attributes, Mapping) else {},
        delivery_attempt=_delivery_attempt(attempt),
        subscription=str(payload["subscription"]) if payload.get("subscription") else None,
        ordering_key=str(message.get("orderingKey")) if message.get("orderingKey") else None,
    )


def _delivery_attempt(value: object) -> int | None:
    """Pub/Sub's `deliveryAttempt`: a small whole number, else None (str.isdigit alone would let "²" through)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 1_000_000 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 6:
        return int(value)
    return None


def _raw_push_extras() -> Mapping[str, Any]:
    """`deliveryAttempt`/`subscription` from the raw request body when functions-framework converted a raw push."""
    if not flask.has_request_context():
        return {}
    body = flask.request.get_json(silent=True)
    return body if isinstance(body, Mapping) and "message" in body else {}


def _handle(pushed: PushedMessage) -> tuple[bool, str | None]:
    """Run one message and map the core's decision to Pub/Sub: (ack?, reason). A dead-letter decision is acked
    once the message is stored on the dead-letter topic, else nacked."""
    started = time.monotonic()
    cold_start = take_cold_start()
    if cold_start:  # one line per instance: the log-based metric of cold starts counts these
        logger.info("cold start", extra={"event": "cold_start"})
    if flask.has_request_context():
        set_trace_from_header(flask.request.headers.get("X-Cloud-Trace-Context"))
    settings = function_settings()
    runner = load_runner(settings.target)
    message = QueueMessage(
        message_id=pushed.message_id,
        body=pushed.data,
        attempt=attempt_of(pushed.attributes, pushed.delivery_attempt),
        max_attempts=settings.max_attempts,
        max_bytes=PUBSUB_MAX_MESSAGE_BYTES,  # whatever the producer may send is accepted (the publisher's fact)
    )
    results: list[MessageResult] = []  # what the dead-lettered line is labelled by (project, stage)
    decision = process_messages(
        runner,
        [message],
        deadline=_deadline(started, settings),
        logger=logger,
        cold_start=cold_start,
        observe=results.extend,
    )[pushed.message_id]
    stage = stage_of(results[0]) if results else (UNKNOWN, UNKNOWN)
    parts = split(pushed.data, results[0], last_attempt=message.is_last_attempt) if results else None
    if parts is not None:
        acked = _settle_split(pushed, parts, settings=settings, attempt=message.attempt, stage=stage)
        return acked, decision.reason
    if decision.disposition is Disposition.DEAD_LETTER:
        return _dead_letter(
            pushed, decision, topic=settings.dead_letter_topic, attempt=message.attempt, stage=stage
        ), decision.reason
    return decision.disposition is Disposition.ACK, decision.reason


def _settle_split(
    pushed: PushedMessage, parts: Split, *, settings: FunctionSettings, attempt: int, stage: tuple[str, str]
) -> bool:
    """Only the failed tasks come back (functions.pubsub_batches): republish those with attempts left, dead-letter
    those without, then ack the original (True). Without RUNNER_TOPIC / RUNNER_DEAD_LETTER_TOPIC to do that: nack
    the whole message (False), as a message of one task would be."""
    if (parts.retry is not None and not settings.topic) or (
        parts.dead_letter is not None and not settings.dead_letter_topic
    ):
        logger.error(
            "cannot send back only the failed tasks (RUNNER_TOPIC or RUNNER_DEAD_LETTER_TOPIC not set): nacking the "
            "whole message",
            extra={"event": "split_unconfigured", "message_id": pushed.message_id},
        )
        return False
    if parts.retry is not None:
        from functions.publishers.pubsub import publish_one

        attributes = {**pushed.attributes, "task_count": str(parts.retry_tasks), PRIOR_ATTEMPTS: str(attempt)}
        republished = publish_one(settings.topic, parts.retry, attributes=attributes)
        logger.info(
            "failed tasks republished",
            extra={
                "event": "tasks_republished",
                "message_id": pushed.message_id,
                "republished_as": republished,
                "tasks": parts.retry_tasks,
                "attempt": attempt,
            },
        )
    if parts.dead_letter is not None:
        own = replace(
            pushed, data=parts.dead_letter, attributes={**pushed.attributes, "task_count": str(parts.dead_letter_tasks)}
        )
        _dead_letter(own, parts.dead_letter_decision, topic=settings.dead_letter_topic, attempt=attempt, stage=stage)
    return True


def _dead_letter(
    pushed: PushedMessage, decision: Decision, *, topic: str, attempt: int, stage: tuple[str, str]
) -> bool:
    """Publish a permanent failure to the dead-letter topic (True: stored, ack). Without a topic, False (nack) so
    the subscription's own dead-letter policy takes it after max_delivery_attempts."""
    from functions.publishers.dead_letter import SOURCE_SUBSCRIPTION, DeadLetter

    letter = DeadLetter(
        body=pushed.data,
        message_id=pushed.message_id,
        reason=decision.reason,
        attempt=attempt,
        source_key=SOURCE_SUBSCRIPTION,
        source=pushed.subscription or "",
    )
    reason = letter.attributes()[FAILURE_REASON]
    if not topic:
        logger.error(
            "permanent failure but RUNNER_DEAD_LETTER_TOPIC is not set: nacking, so the subscription's "
            "dead-letter policy takes the message after max_delivery_attempts",
            extra={"event": "dead_letter_unconfigured", "message_id": pushed.message_id, "reason": reason},
        )
        return False
    from functions.publishers.pubsub import publish_dead_letter

    publish_dead_letter(topic, letter, original_attributes=pushed.attributes)
    logger.warning(
        "dead-lettered",
        extra={
            "event": "dead_lettered",
            "message_id": pushed.message_id,
            "topic": topic,
            "reason": reason,
            # What the log-based metric of dead letters is labelled by (the outcome lines' field names).
            "project_hash": stage[0],
            "stage_uuid": stage[1],
        },
    )
    return True


@functions_framework.cloud_event
def consume(event: Any) -> None:
    """Pub/Sub CloudEvent (binary, structured, or a converted raw push). Raises to nack."""
    data = event.data
    if isinstance(data, bytes | str):
        data = json.loads(data)
    if not isinstance(data, Mapping):
        raise TransportDecodeError("CloudEvent data is not a Pub/Sub message object")
    payload = dict(data)
    for key, value in _raw_push_extras().items():
        payload.setdefault(key, value)  # what functions-framework's conversion dropped (deliveryAttempt...)
    pushed = pushed_message(payload, fallback_id=str(event["id"]) if event.get("id") else None)
    acked, reason = _handle(pushed)
    if not acked:
        raise RetryDeliveryError(reason or "retry")


@functions_framework.http
def consume_http(request: flask.Request) -> tuple[str, int]:
    """A push subscription's raw body (with deliveryAttempt). 204 acks; 500 nacks; 400 for a non-Pub/Sub body."""
    body = request.get_json(silent=True)
    if not isinstance(body, Mapping):
        return "body is not a Pub/Sub push JSON object", 400
    try:
        pushed = pushed_message(body)
    except TransportDecodeError as exc:
        return str(exc), 400
    acked, reason = _handle(pushed)
    if acked:
        return "", 204
    return reason or "retry", 500


def _pubsub_publisher(settings: FunctionSettings) -> PubSubPublisher:
    from functions.publishers.pubsub import PubSubPublisher

    if not settings.topic:
        raise ConfigurationError(f"{TOPIC_ENV} is not set: the topic (projects/P/topics/T) the dispatcher publishes to")
    return PubSubPublisher(topic=settings.topic, tasks_per_message=settings.tasks_per_message)


@functions_framework.http
def dispatch(request: flask.Request) -> tuple[dict[str, Any], int]:
    """Cloud Scheduler (unsigned) or Encord's webhook (signed): list waiting tasks and publish to RUNNER_TOPIC.

    An unsigned request is a schedule trigger only when no webhook secret is configured or
    RUNNER_ALLOW_UNSIGNED_SCHEDULE is true (deploy the function IAM-protected then); otherwise it gets 401.
    A public webhook deploys `webhook` below instead, which has no unsigned path.
    """
    from functions.trigger import handle_webhook, publish_waiting_tasks, statuses_from_environment
    from functions.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER

    started = time.monotonic()
    take_cold_start()
    set_trace_from_header(request.headers.get("X-Cloud-Trace-Context"))
    settings = function_settings()
    runner = load_runner(settings.target)
    publisher = _pubsub_publisher(settings)
    secret = secrets.webhook_secret(settings, allow_arn=False)
    headers = dict(request.headers.items())
    signed = any(key.lower() in {SIGNATURE_HEADER.lower(), TIMESTAMP_HEADER.lower()} for key in headers)
    deadline = _deadline(started, settings)
    if signed or (secret and not settings.allow_unsigned_schedule):
        answer = handle_webhook(
            request.get_data(), headers, runner=runner, publisher=publisher, secret=secret, deadline=deadline
        )
        return answer.body, answer.status
    summary = publish_waiting_tasks(runner, publisher, statuses=statuses_from_environment(settings), deadline=deadline)
    return summary.as_dict(), 200


@functions_framework.http
def webhook(request: flask.Request) -> tuple[dict[str, Any], int]:
    """Encord's signed webhook only (the public function): never a schedule, whatever the environment says.

    The signature (and replay) is checked before the SSH key is read or the user's code is imported. No webhook
    secret configured: 500.
    """
    from functions.trigger import act_on_webhook, check_webhook

    started = time.monotonic()
    take_cold_start()
    set_trace_from_header(request.headers.get("X-Cloud-Trace-Context"))
    body = request.get_data()
    settings = function_settings()
    secret = secrets.webhook_secret(settings, allow_arn=False)
    rejected = check_webhook(body, dict(request.headers.items()), secret=secret)
    if rejected is not None:
        return rejected.body, rejected.status
    answer = act_on_webhook(
        body,
        runner=load_runner(settings.target),
        publisher=_pubsub_publisher(settings),
        deadline=_deadline(started, settings),
    )
    return answer.body, answer.status
