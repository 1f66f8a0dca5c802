"""The dead-letter message, built once for both clouds: the original body, and attributes saying why.

The SQS consumer sends it to RUNNER_DLQ_URL (`sqs.dead_letter_entry`), the Pub/Sub consumer publishes it to
RUNNER_DEAD_LETTER_TOPIC (`pubsub.publish_one`). The attribute names are defined here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

FAILURE_REASON = "runner_failure_reason"
SOURCE_MESSAGE_ID = "runner_source_message_id"
SOURCE_QUEUE = "runner_source_queue"  # SQS: the queue ARN the message came from
SOURCE_SUBSCRIPTION = "runner_source_subscription"  # Pub/Sub: the push subscription
ATTEMPT = "runner_attempt"
DEFAULT_REASON = "failed permanently"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One message to dead-letter. `reason` comes from the core's `Decision` (short, sanitised, never a secret)."""

    body: str | bytes
    message_id: str
    reason: str | None
    attempt: int
    source_key: str  # SOURCE_QUEUE or SOURCE_SUBSCRIPTION
    source: str

    def attributes(self) -> dict[str, str]:
        return {
            FAILURE_REASON: self.reason or DEFAULT_REASON,
            SOURCE_MESSAGE_ID: self.message_id,
            self.source_key: self.source,
            ATTEMPT: str(self.attempt),
        }


__all__ = ["ATTEMPT", "FAILURE_REASON", "SOURCE_MESSAGE_ID", "SOURCE_QUEUE", "SOURCE_SUBSCRIPTION", "DeadLetter"]
