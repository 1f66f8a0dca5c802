"""Pub/Sub dead letters: read a dead-letter subscription without consuming it, and republish to the work topic.

Order per message: publish to the topic, wait until Pub/Sub has stored it, then ack the dead letter. A crash in
between leaves the dead letter unacked (it comes back when its ack deadline passes) and a copy on the topic: a
duplicate the runner skips (the task is no longer at its stage), never a loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deploy.ops.letters import DeadLetter, redrive_attributes
from deploy.ops.redrive import Pacer, Progress, RedriveReport
from functions.publishers.pubsub import PUBLISH_TIMEOUT_S, start_publish

PULL_TIMEOUT_S = 2.0  # an empty pull may be held open: a short deadline keeps reading prompt


def _letter(received: Any) -> DeadLetter:
    message = received.message
    return DeadLetter(
        message_id=str(message.message_id),
        body=bytes(message.data),
        attributes={str(k): str(v) for k, v in message.attributes.items()},
        receive_count=int(received.delivery_attempt) if received.delivery_attempt else None,
        group_id=str(message.ordering_key) or None,
    )


class PubSubDeadLetters:
    """A dead-letter subscription (pull) and the topic its messages are republished to."""

    def __init__(self, *, subscriber: Any, publisher: Any, subscription: str, topic: str | None) -> None:
        self._subscriber = subscriber
        self._publisher = publisher
        self.subscription = subscription
        self.topic = topic

    @property
    def description(self) -> str:
        return f"Pub/Sub {self.subscription}"

    def approximate_count(self) -> int | None:
        return None  # only Cloud Monitoring knows a subscription's backlog; `peek` counts exactly instead

    def _pull(self, count: int) -> list[Any]:
        from google.api_core.exceptions import DeadlineExceeded

        try:
            response = self._subscriber.pull(
                request={"subscription": self.subscription, "max_messages": max(1, count)}, timeout=PULL_TIMEOUT_S
            )
        except DeadlineExceeded:
            return []
        return list(response.received_messages)

    def _nack(self, received: Sequence[Any]) -> None:
        if received:
            self._subscriber.modify_ack_deadline(
                request={
                    "subscription": self.subscription,
                    "ack_ids": [r.ack_id for r in received],
                    "ack_deadline_seconds": 0,
                }
            )

    def peek(self, *, limit: int) -> list[DeadLetter]:
        held: list[Any] = []
        try:
            while len(held) < limit:
                batch = self._pull(limit - len(held))
                if not batch:
                    break
                held.extend(batch)
        finally:
            self._nack(held)
        return [_letter(received) for received in held]

    def _publish(self, letter: DeadLetter, *, keep_history: bool) -> Any:
        assert self.topic is not None
        return start_publish(
            self.topic,
            letter.body,
            attributes=redrive_attributes(letter.attributes, keep_history=keep_history),
            ordering_key=letter.group_id or "",
            client=self._publisher,
        )

    def redrive(
        self, *, limit: int | None, batch_size: int, pacer: Pacer, keep_history: bool, progress: Progress
    ) -> RedriveReport:
        if not self.topic:
            raise ValueError("no topic to republish to (give --topic, or Terraform outputs with topic_id)")
        report = RedriveReport()
        while limit is None or report.moved + report.failed < limit:
            wanted = batch_size if limit is None else min(batch_size, limit - report.moved - report.failed)
            batch = self._pull(pacer.batch_size(wanted))
            if not batch:
                break
            published, unpublished = [], []
            # Publish the whole batch, then wait for each: the client batches the requests, and a dead letter is
            # still acked only once its own copy is stored.
            pending = [(received, self._publish(_letter(received), keep_history=keep_history)) for received in batch]
            for received, future in pending:
                try:
                    future.result(timeout=PUBLISH_TIMEOUT_S)
                except Exception as exc:  # reported; the dead letter is nacked and stays
                    letter = _letter(received)
                    report.errors.append(f"{letter.message_id}: {type(exc).__name__}: {exc}"[:300])
                    if letter.group_id:
                        self._publisher.resume_publish(self.topic, letter.group_id)
                    unpublished.append(received)
                    continue
                published.append(received)
            if published:  # stored on the topic: now the dead letters may let go
                self._subscriber.acknowledge(
                    request={"subscription": self.subscription, "ack_ids": [r.ack_id for r in published]}
                )
            self._nack(unpublished)
            report.moved += len(published)
            report.failed += len(unpublished)
            progress(report)
            if unpublished and not published:
                break
            pacer.wait_after(len(batch))
        return report
