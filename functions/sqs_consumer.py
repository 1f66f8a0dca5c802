"""The SQS consumer: records -> the runner (one call per batch, or per FIFO round) -> the core's decisions -> the
partial batch response.

The typed `PartialItemFailureResponse` is built here directly rather than through Powertools' BatchProcessor: the
runner handles the whole batch in one call (so Encord requests batch across records), while the processor's model
is a handler per record. A batch where every record failed is still a partial response, never an invocation error
(an error would make Lambda retry the whole batch and scale the event source mapping down).

Records are read by `SqsRecord.parse`, not Powertools' `SqsRecord`: that one raises on a corrupted record (say,
`attributes` that is not an object), and one bad record must fail alone, never its batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from functions.consumer import StructuredLogger, process_messages
from functions.publishers.sqs import MAX_MESSAGE_BYTES
from runner_core.disposition import Decision, Disposition, not_processed
from runner_core.outcomes import MessageResult, QueueMessage

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

    from functions.settings import FunctionSettings
    from runner_core.protocols import RunnerTarget


class ConsumerMetrics(Protocol):
    """What the consumer reports to metrics (AWS: `functions._emf.EmfMetrics`)."""

    def observe(self, results: Sequence[MessageResult]) -> None: ...

    def dead_lettered(self, message_ids: Iterable[str]) -> None: ...


FIFO_GROUP_BLOCKED = "an earlier message of its FIFO group was not processed; it runs after that one"


@dataclass(frozen=True, slots=True)
class SqsRecord:
    """What the consumer reads from one SQS record, whatever the record holds."""

    message_id: str
    body: str
    attempt: int  # ApproximateReceiveCount, 1 when absent or odd
    group: str  # MessageGroupId ("" on a standard queue)
    source_arn: str

    @classmethod
    def parse(cls, raw: object) -> SqsRecord:
        record: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        attributes = record.get("attributes")
        attributes = attributes if isinstance(attributes, Mapping) else {}
        try:
            attempt = max(1, int(attributes.get("ApproximateReceiveCount", 1)))
        except (TypeError, ValueError, OverflowError):
            attempt = 1
        return cls(
            message_id=str(record.get("messageId", "")),
            body=str(record.get("body", "")),
            attempt=attempt,
            group=str(attributes.get("MessageGroupId", "") or ""),
            source_arn=str(record.get("eventSourceARN", "") or ""),
        )

    @property
    def fifo(self) -> bool:
        """FIFO records carry their MessageGroupId; the queue ARN's ".fifo" suffix is the fallback."""
        return bool(self.group) or self.source_arn.endswith(".fifo")


def queue_message(record: SqsRecord, attempts: int) -> QueueMessage:
    return QueueMessage(
        message_id=record.message_id,
        body=record.body,
        attempt=record.attempt,
        max_attempts=attempts,
        max_bytes=MAX_MESSAGE_BYTES,  # whatever the producer may send is accepted (the publisher's fact)
    )


def consume_records(
    records: list[SqsRecord],
    *,
    runner: RunnerTarget,
    settings: FunctionSettings,
    deadline: float | None,
    logger: StructuredLogger,
    cold_start: bool,
    metrics: ConsumerMetrics | None = None,
) -> PartialItemFailureResponse:
    """Run the records, dead-letter what the core decided to (when RUNNER_DLQ_URL is set), and report the rest of
    what is not acked for redelivery. `metrics` sees each runner call's results and what was dead-lettered."""
    observe = metrics.observe if metrics is not None else None
    if any(record.fifo for record in records):
        decisions = _process_fifo(
            runner, records, settings.max_attempts, deadline, logger=logger, cold_start=cold_start, observe=observe
        )
    else:
        messages = [queue_message(record, settings.max_attempts) for record in records]
        decisions = process_messages(
            runner, messages, deadline=deadline, logger=logger, cold_start=cold_start, observe=observe
        )
    dead = [r for r in records if decisions[r.message_id].disposition is Disposition.DEAD_LETTER]
    sent = _dead_letter(dead, decisions, settings.dlq_url, logger=logger) if settings.dlq_url and dead else set()
    if metrics is not None and sent:
        metrics.dead_lettered(sent)
    return _failures(
        r.message_id
        for r in records
        if decisions[r.message_id].disposition is not Disposition.ACK and r.message_id not in sent
    )


def retry_all(records: list[SqsRecord]) -> PartialItemFailureResponse:
    """Every record back to the queue (the function could not start)."""
    return _failures(r.message_id for r in records)


def _failures(message_ids: Iterable[str]) -> PartialItemFailureResponse:
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in message_ids]}


def _dead_letter(
    records: list[SqsRecord], decisions: dict[str, Decision], dlq_url: str, *, logger: StructuredLogger
) -> set[str]:
    """Send permanently failed records to the DLQ with the reason; returns the ids that are safely stored there."""
    from functions.publishers.dead_letter import SOURCE_QUEUE, DeadLetter
    from functions.publishers.sqs import send_dead_letters

    letters = [
        (
            DeadLetter(
                body=record.body,
                message_id=record.message_id,
                reason=decisions[record.message_id].reason,
                attempt=record.attempt,
                source_key=SOURCE_QUEUE,
                source=record.source_arn,
            ),
            record.group or None,
        )
        for record in records
    ]
    sent, errors = send_dead_letters(dlq_url, letters)
    if errors:
        logger.error("dead-letter send failed; leaving the records to the redrive policy", extra={"errors": errors})
    return sent


def _process_fifo(
    runner: RunnerTarget,
    records: list[SqsRecord],
    attempts: int,
    deadline: float | None,
    *,
    logger: StructuredLogger,
    cold_start: bool,
    observe: Callable[[Sequence[MessageResult]], None] | None,
) -> dict[str, Decision]:
    """FIFO order. Round n holds the n-th record of every message group: each round goes through the runner as one
    batch (Encord calls batch across groups), while a group's records run strictly one after another. Once a record
    of a group is not acked, the group's later records do not run in this invocation (they are reported for
    redelivery, after the one that failed)."""
    groups: dict[str, list[SqsRecord]] = {}
    for record in records:
        groups.setdefault(record.group, []).append(record)
    depth = max((len(members) for members in groups.values()), default=0)
    decisions: dict[str, Decision] = {}
    stopped: set[str] = set()
    for n in range(depth):
        ready: list[SqsRecord] = []
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
            [queue_message(record, attempts) for record in ready],
            deadline=deadline,
            logger=logger,
            cold_start=cold_start,
            observe=observe,
        )
        decisions.update(decided)
        stopped |= {r.group for r in ready if decided[r.message_id].disposition is not Disposition.ACK}
    return decisions
