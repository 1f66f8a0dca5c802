"""Pub/Sub: batched publishing for the producer, and the consumer's dead-letter publishes.

The client library batches (BatchSettings) and orders (ordering keys) for us; we only wait for every future.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from functions.publishers import PublishReport
from functions.publishers.dead_letter import DeadLetter

if TYPE_CHECKING:
    from runner_core.producer import OutboundMessage

# The size contract (one fact, read by both sides): Pub/Sub takes messages of up to 10 MB. The producer builds
# bodies of at most MAX_BODY_BYTES, leaving room for attributes; the consumer (functions.gcp) accepts
# MAX_MESSAGE_BYTES of data.
MAX_MESSAGE_BYTES = 10_000_000
ATTRIBUTE_ROOM_BYTES = 4096
MAX_BODY_BYTES = MAX_MESSAGE_BYTES - ATTRIBUTE_ROOM_BYTES
PUBLISH_TIMEOUT_S = 60.0
# Tasks per message by default: as many as Lambda's default SQS batch (10 messages of one task), so one Cloud
# Functions request costs Encord what one Lambda invocation does. A partly failed message sends back only its failed
# tasks (functions.pubsub_batches).
DEFAULT_TASKS_PER_MESSAGE = 10
MAX_ATTRIBUTE_VALUE_BYTES = 1024  # Pub/Sub's limit per attribute value

_client_lock = threading.Lock()
_client: Any = None


def publisher_client() -> Any:
    """One PublisherClient per process, with ordering enabled (honours PUBSUB_EMULATOR_HOST)."""
    global _client
    with _client_lock:
        if _client is None:
            import google.cloud.pubsub_v1 as pubsub_v1  # on first publish only: the slowest import here

            _client = pubsub_v1.PublisherClient(
                batch_settings=pubsub_v1.types.BatchSettings(max_messages=100, max_bytes=9_000_000, max_latency=0.05),
                publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True),
            )
        return _client


def reset_client() -> None:
    """Drop the cached client (tests switch emulators between cases)."""
    global _client
    with _client_lock:
        _client = None


def clip_attribute(value: str) -> str:
    encoded = value.encode()
    if len(encoded) <= MAX_ATTRIBUTE_VALUE_BYTES:
        return value
    return encoded[: MAX_ATTRIBUTE_VALUE_BYTES - 3].decode("utf-8", "ignore") + "…"


def start_publish(
    topic: str, data: bytes, *, attributes: Mapping[str, str], ordering_key: str = "", client: Any = None
) -> Any:
    """Publish one message without waiting: its future (empty attributes dropped, long ones clipped to the limit)."""
    client = client if client is not None else publisher_client()
    clean = {name: clip_attribute(value) for name, value in attributes.items() if value}
    return client.publish(topic, data, ordering_key=ordering_key, **clean)


def publish_one(
    topic: str,
    data: bytes,
    *,
    attributes: Mapping[str, str],
    ordering_key: str = "",
    client: Any = None,
    timeout_s: float = PUBLISH_TIMEOUT_S,
) -> str:
    """Publish one message and wait for its id (the dead-letter path: it must be stored before we ack)."""
    future = start_publish(topic, data, attributes=attributes, ordering_key=ordering_key, client=client)
    return str(future.result(timeout=timeout_s))


@dataclass(slots=True)
class PubSubPublisher:
    """The producer's Pub/Sub side: N tasks per message (default 10); a single-task message is ordered by its data
    hash."""

    topic: str
    client: Any = None
    max_message_bytes: int = MAX_BODY_BYTES
    tasks_per_message: int = DEFAULT_TASKS_PER_MESSAGE
    timeout_s: float = PUBLISH_TIMEOUT_S

    @property
    def destination(self) -> str:
        return self.topic

    def publish(self, messages: Sequence[OutboundMessage]) -> PublishReport:
        if not messages:
            return PublishReport()
        client = self.client if self.client is not None else publisher_client()
        futures = [
            (
                message,
                client.publish(
                    self.topic, message.body.encode(), ordering_key=message.ordering_key or "", **message.attributes()
                ),
            )
            for message in messages
        ]
        published = tasks = 0
        errors: list[str] = []
        unsent: list[int] = []
        for index, (message, future) in enumerate(futures):
            try:
                future.result(timeout=self.timeout_s)
            except Exception as exc:  # reported per message; the rest of the batch still counts
                errors.append(f"{message.dedup_id or message.stage_uuid}: {type(exc).__name__}: {exc}"[:300])
                if message.ordering_key:
                    # A failed ordered publish pauses its key until resumed.
                    client.resume_publish(self.topic, message.ordering_key)
                unsent.append(index)
                continue
            published += 1
            tasks += message.task_count
        return PublishReport(
            published=published,
            tasks=tasks,
            failed=len(messages) - published,
            errors=tuple(errors),
            unsent=tuple(unsent),
        )


def publish_dead_letter(topic: str, letter: DeadLetter, *, original_attributes: Mapping[str, str]) -> str:
    """Publish `letter` to the dead-letter topic, keeping the message's own attributes beside ours."""
    data = letter.body.encode() if isinstance(letter.body, str) else letter.body
    return publish_one(topic, data, attributes={**original_attributes, **letter.attributes()})
