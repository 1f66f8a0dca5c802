"""Dead letters as people read them, whatever the cloud: what a message asks for (its tasks) and why it failed.

The consumers (functions.aws / functions.gcp) put the `runner_*` attributes below on what they dead-letter; the
transports add their own when their redrive / dead-letter policy moves a message. Reading them here never decides
anything: it only explains.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Written by the consumers when they dead-letter a message themselves (defined once, in functions).
from functions.publishers.dead_letter import (
    ATTEMPT,
    FAILURE_REASON,
    SOURCE_MESSAGE_ID,
    SOURCE_QUEUE,
    SOURCE_SUBSCRIPTION,
)
from runner_core.errors import MessageDecodeError
from runner_core.messages import decode_message

SOURCE_ATTRIBUTES = (SOURCE_QUEUE, SOURCE_SUBSCRIPTION)
# Written by `dlq redrive`: how often a message was put back, and (with --keep-history) the earlier reasons.
REDRIVE_COUNT = "runner_redrive_count"
PREVIOUS_REASON = "runner_previous_failure_reason"
# Pub/Sub's dead-letter policy adds these; SQS's redrive policy adds no message attribute.
PUBSUB_DEAD_LETTER_PREFIX = "CloudPubSubDeadLetterSource"
PUBSUB_DELIVERY_COUNT = "CloudPubSubDeadLetterSourceDeliveryCount"

REASON_ATTRIBUTES = frozenset({FAILURE_REASON, SOURCE_MESSAGE_ID, ATTEMPT, *SOURCE_ATTRIBUTES})
_HISTORY_LIMIT = 900  # bytes: Pub/Sub allows 1024 per attribute value; SQS is roomier, one rule keeps both valid


@dataclass(frozen=True, slots=True)
class LetterTask:
    """One task a dead-lettered message names."""

    task_uuid: str
    data_title: str | None
    project_hash: str | None
    stage_uuid: str | None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One message in a dead-letter queue / subscription, as read (not consumed)."""

    message_id: str
    body: bytes
    attributes: Mapping[str, str]
    # How many times the dead-letter queue itself has handed this message out (SQS), when known.
    receive_count: int | None = None
    group_id: str | None = None  # FIFO message group (SQS)
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        """Why it is here: the consumer's own reason, else which transport limit moved it."""
        reason = self.attributes.get(FAILURE_REASON)
        if reason:
            return reason
        deliveries = self.attributes.get(PUBSUB_DELIVERY_COUNT)
        if deliveries:
            return f"delivered {deliveries} times without success (dead-letter policy)"
        return "received too many times without success (redrive policy)"

    @property
    def failure_attributes(self) -> dict[str, str]:
        """The attributes that explain the failure (ours and the transport's), for `dlq show`."""
        return {
            name: value
            for name, value in sorted(self.attributes.items())
            if name in REASON_ATTRIBUTES
            or name in (REDRIVE_COUNT, PREVIOUS_REASON)
            or name.startswith(PUBSUB_DEAD_LETTER_PREFIX)
        }

    def tasks(self) -> tuple[list[LetterTask], str | None]:
        """The tasks the body names, and the decode error when it names none (a malformed message)."""
        try:
            decoded = decode_message(self.body)
        except MessageDecodeError as exc:
            return [], str(exc)
        project = decoded.project_hash or self.attributes.get("project_hash")
        stage = str(decoded.stage_uuid) if decoded.stage_uuid else self.attributes.get("stage_uuid")
        return [
            LetterTask(task_uuid=str(task.uuid), data_title=task.data_title, project_hash=project, stage_uuid=stage)
            for task in decoded.tasks
        ], None


def redrive_attributes(attributes: Mapping[str, str], *, keep_history: bool) -> dict[str, str]:
    """The attributes a redriven message carries: the producer's kept, the failure's dropped (the next failure
    writes its own), a redrive counter added; with `keep_history` the reasons so far stay as one attribute."""
    kept = {
        name: value
        for name, value in attributes.items()
        if name not in REASON_ATTRIBUTES
        and name not in (REDRIVE_COUNT, PREVIOUS_REASON)
        and not name.startswith(PUBSUB_DEAD_LETTER_PREFIX)
    }
    try:
        count = int(attributes.get(REDRIVE_COUNT, "0"))
    except ValueError:
        count = 0
    kept[REDRIVE_COUNT] = str(count + 1)
    if keep_history:
        reason = DeadLetter(message_id="", body=b"", attributes=attributes).reason
        previous = attributes.get(PREVIOUS_REASON)
        history = f"{previous} | {reason}" if previous else reason
        encoded = history.encode()
        if len(encoded) > _HISTORY_LIMIT:  # keep the newest reasons
            history = "…" + encoded[-(_HISTORY_LIMIT - 3) :].decode("utf-8", "ignore")
        kept[PREVIOUS_REASON] = history
    return kept
