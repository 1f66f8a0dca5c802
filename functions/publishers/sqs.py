"""SQS: `send_message_batch` for the producer (standard and FIFO) and the consumer's dead-letter sends."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from functions.publishers import PublishReport
from functions.publishers.dead_letter import DeadLetter

if TYPE_CHECKING:
    from runner_core.producer import OutboundMessage

# The size contract (one fact, read by both sides): SQS takes a message (body + attributes) of up to 256 KiB, the
# queue's default MaximumMessageSize (the Terraform module keeps it). The producer builds bodies of at most
# MAX_BODY_BYTES, leaving room for the attributes it adds; the consumer (functions.aws) accepts MAX_MESSAGE_BYTES.
MAX_MESSAGE_BYTES = 256 * 1024
ATTRIBUTE_ROOM_BYTES = 2048  # project, stage and task count attributes take ~150 bytes
MAX_BODY_BYTES = MAX_MESSAGE_BYTES - ATTRIBUTE_ROOM_BYTES
MAX_BATCH_ENTRIES = 10  # SQS's per-request entry limit
MAX_BATCH_BYTES = MAX_MESSAGE_BYTES  # SQS's per-request payload limit equals one message's
_ID_MAX_LENGTH = 128
# MessageGroupId / MessageDeduplicationId: alphanumerics and ASCII punctuation only.
_ID_FORBIDDEN = re.compile(r"[^A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]")


def sqs_client() -> Any:
    """A boto3 SQS client (honours AWS_ENDPOINT_URL, so moto_server works with no code change)."""
    import boto3  # the AWS SDK is imported only by modules that talk to AWS, and only when they do

    return boto3.client("sqs")


def sanitise_id(value: str) -> str:
    """Make `value` a valid FIFO group / deduplication id: allowed characters, at most 128 of them.

    Too long a value is shortened to a prefix plus a hash of the whole, so two long ids stay distinct.
    """
    cleaned = _ID_FORBIDDEN.sub("_", value)
    if len(cleaned) <= _ID_MAX_LENGTH:
        return cleaned
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    return f"{cleaned[: _ID_MAX_LENGTH - 33]}-{digest}"


def is_fifo(queue_url: str) -> bool:
    return queue_url.rstrip("/").endswith(".fifo")


def string_attributes(attributes: Mapping[str, str]) -> dict[str, dict[str, str]]:
    return {name: {"DataType": "String", "StringValue": value} for name, value in attributes.items() if value}


def _entry_size(entry: Mapping[str, Any]) -> int:
    attributes = entry.get("MessageAttributes", {})
    size = len(str(entry["MessageBody"]).encode())
    for name, value in attributes.items():
        size += len(name.encode()) + len(value["DataType"].encode()) + len(value["StringValue"].encode())
    return size


def _batches(entries: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        entry_size = _entry_size(entry)
        if batch and (len(batch) >= MAX_BATCH_ENTRIES or size + entry_size > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry_size
    if batch:
        yield batch


def send_entries(client: Any, queue_url: str, entries: Sequence[dict[str, Any]]) -> tuple[set[str], list[str]]:
    """Send entries (each with a unique `Id`) in as few batch requests as the limits allow.

    Returns the ids that were sent and short reasons for those that were not.
    """
    sent: set[str] = set()
    errors: list[str] = []
    for batch in _batches(entries):
        try:
            response = client.send_message_batch(QueueUrl=queue_url, Entries=batch)
        except Exception as exc:  # a whole request failed (throttled, network): its entries are reported, not raised
            errors.extend(f"{entry['Id']}: {type(exc).__name__}" for entry in batch)
            continue
        sent.update(item["Id"] for item in response.get("Successful", []))
        errors.extend(
            f"{item['Id']}: {item.get('Code', 'error')} {item.get('Message', '')}".strip()
            for item in response.get("Failed", [])
        )
    return sent, errors


@dataclass(slots=True)
class SqsPublisher:
    """The producer's SQS side: one task per message; FIFO queues get a group (data hash) and a deduplication id."""

    queue_url: str
    client: Any = None
    max_message_bytes: int = MAX_BODY_BYTES
    tasks_per_message: int = 1

    @property
    def destination(self) -> str:
        return self.queue_url

    def _entry(self, index: int, message: OutboundMessage) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "Id": str(index),
            "MessageBody": message.body,
            "MessageAttributes": string_attributes(message.attributes()),
        }
        if is_fifo(self.queue_url):
            group = message.ordering_key or f"{message.project_hash}-{message.stage_uuid}"
            dedup = message.dedup_id or hashlib.sha256(message.body.encode()).hexdigest()
            entry["MessageGroupId"] = sanitise_id(group)
            entry["MessageDeduplicationId"] = sanitise_id(dedup)
        return entry

    def publish(self, messages: Sequence[OutboundMessage]) -> PublishReport:
        if not messages:
            return PublishReport()
        if self.client is None:  # kept: the producer publishes page after page, and a client costs ~0.1-1 s
            self.client = sqs_client()
        client = self.client
        entries = [self._entry(index, message) for index, message in enumerate(messages)]
        sent, errors = send_entries(client, self.queue_url, entries)
        return PublishReport(
            published=len(sent),
            tasks=sum(messages[int(index)].task_count for index in sent),
            failed=len(messages) - len(sent),
            errors=tuple(errors),
            unsent=tuple(index for index in range(len(messages)) if str(index) not in sent),
        )


def send_dead_letters(queue_url: str, letters: Sequence[tuple[DeadLetter, str | None]]) -> tuple[set[str], list[str]]:
    """Send `(letter, FIFO group)` pairs to the dead-letter queue; the message ids stored there, and the errors."""
    fifo = is_fifo(queue_url)
    entries: list[dict[str, Any]] = []
    for index, (letter, group) in enumerate(letters):
        body = letter.body.decode("utf-8", "replace") if isinstance(letter.body, bytes) else letter.body
        entry: dict[str, Any] = {
            "Id": str(index),
            "MessageBody": body or "(empty body)",
            "MessageAttributes": string_attributes(letter.attributes()),
        }
        if fifo:
            entry["MessageGroupId"] = sanitise_id(group or "dead-letter")
            entry["MessageDeduplicationId"] = sanitise_id(letter.message_id)
        entries.append(entry)
    try:
        client = sqs_client()
    except Exception as exc:  # no region, bad endpoint: the records stay failed and the redrive policy takes them
        return set(), [f"SQS client unavailable: {type(exc).__name__}"]
    sent, errors = send_entries(client, queue_url, entries)
    return {letters[int(index)][0].message_id for index in sent}, errors
