"""SQS dead letters: read a dead-letter queue without consuming it, and redrive it into the work queue.

Why not SQS's own message-move task (`StartMessageMoveTask`): it can only return messages to the queue they came
from, which it knows only for messages the redrive policy moved (not for those the consumer dead-lettered itself
with a reason), it cannot drop our failure attributes, and moto does not implement it, so it could not be tested
here. The redrive below is receive + send + delete, in that order: a crash after the send and before the delete
leaves a copy in both queues (the runner skips a task no longer at its stage, and a FIFO re-send within five minutes
is dropped by SQS, since the deduplication id is derived from the dead letter's id), never in neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deploy.local.sqs import delete_messages
from deploy.ops.letters import DeadLetter, redrive_attributes
from deploy.ops.redrive import Pacer, Progress, RedriveReport
from functions.publishers.sqs import is_fifo, sanitise_id, send_entries, string_attributes

MAX_RECEIVE = 10  # SQS's per-request limit


def _letter(message: dict[str, Any]) -> DeadLetter:
    system = message.get("Attributes", {})
    attributes = {
        name: str(value.get("StringValue", ""))
        for name, value in message.get("MessageAttributes", {}).items()
        if value.get("DataType", "String").startswith(("String", "Number"))
    }
    count = system.get("ApproximateReceiveCount")
    return DeadLetter(
        message_id=str(message["MessageId"]),
        body=str(message.get("Body", "")).encode(),
        attributes=attributes,
        receive_count=int(count) if count is not None else None,
        group_id=system.get("MessageGroupId"),
        extra={"receipt_handle": str(message["ReceiptHandle"])},
    )


class SqsDeadLetters:
    """A dead-letter queue and the work queue its messages are redriven into."""

    def __init__(self, *, client: Any, dlq_url: str, queue_url: str | None, lease_s: int = 60) -> None:
        self._sqs = client
        self.dlq_url = dlq_url
        self.queue_url = queue_url
        # How long a message read by us stays invisible to anyone else; a crashed redrive's messages come back
        # to the dead-letter queue after this.
        self.lease_s = lease_s

    @property
    def description(self) -> str:
        return f"SQS {self.dlq_url}"

    def approximate_count(self) -> int | None:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.dlq_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def _receive(self, count: int) -> list[dict[str, Any]]:
        # A short poll answers at once; it samples only some SQS servers and may come back empty while messages
        # wait, so an empty answer is confirmed with a long poll before the queue counts as drained.
        for wait_s in (0, 1):
            messages: list[dict[str, Any]] = self._sqs.receive_message(
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=max(1, min(MAX_RECEIVE, count)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                VisibilityTimeout=self.lease_s,
                WaitTimeSeconds=wait_s,
            ).get("Messages", [])
            if messages:
                return messages
        return []

    def _release(self, messages: Sequence[dict[str, Any]]) -> None:
        """Make messages visible again at once (a read that consumes nothing)."""
        for start in range(0, len(messages), MAX_RECEIVE):
            chunk = messages[start : start + MAX_RECEIVE]
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.dlq_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(chunk)
                ],
            )

    def peek(self, *, limit: int) -> list[DeadLetter]:
        held: list[dict[str, Any]] = []
        try:
            while len(held) < limit:
                batch = self._receive(limit - len(held))
                if not batch:
                    break
                held.extend(batch)
        finally:
            self._release(held)
        return [_letter(message) for message in held]

    def _entry(self, index: int, message: dict[str, Any], *, keep_history: bool) -> dict[str, Any]:
        assert self.queue_url is not None
        letter = _letter(message)
        entry: dict[str, Any] = {
            "Id": str(index),
            "MessageBody": message.get("Body", ""),
            "MessageAttributes": string_attributes(redrive_attributes(letter.attributes, keep_history=keep_history)),
        }
        if is_fifo(self.queue_url):
            entry["MessageGroupId"] = sanitise_id(letter.group_id or "redrive")
            entry["MessageDeduplicationId"] = sanitise_id(f"redrive-{letter.message_id}")
        return entry

    def redrive(
        self, *, limit: int | None, batch_size: int, pacer: Pacer, keep_history: bool, progress: Progress
    ) -> RedriveReport:
        if not self.queue_url:
            raise ValueError("no work queue to redrive into (give --queue-url, or Terraform outputs with queue_url)")
        report = RedriveReport()
        while limit is None or report.moved + report.failed < limit:
            wanted = batch_size if limit is None else min(batch_size, limit - report.moved - report.failed)
            messages = self._receive(pacer.batch_size(wanted))
            if not messages:
                break
            entries = [self._entry(i, message, keep_history=keep_history) for i, message in enumerate(messages)]
            sent, errors = send_entries(self._sqs, self.queue_url, entries)  # stored in the work queue first ...
            delivered = [message for i, message in enumerate(messages) if str(i) in sent]
            refused = delete_messages(self._sqs, self.dlq_url, delivered)  # ... then removed from the dead letters
            report.moved += len(delivered)
            report.failed += len(messages) - len(delivered)
            report.errors.extend(errors)
            report.errors.extend(f"{message_id}: sent but not deleted (a copy stays)" for message_id in refused)
            unsent = [message for i, message in enumerate(messages) if str(i) not in sent]
            self._release(unsent)
            progress(report)
            if unsent and not delivered:
                break  # the work queue refuses everything: stop instead of spinning
            pacer.wait_after(len(messages))
        return report
