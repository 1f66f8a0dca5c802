"""The SQS consumer: records -> the runner (one call per batch, or per FIFO round) -> the core's decisions -> the
partial batch response.

The typed `PartialItemFailureResponse` is built here directly rather than through Powertools' BatchProcessor: the
runner handles the whole batch in one call (so Encord requests batch across records), while the processor's model
is a handler per record. A batch where every record failed is still a partial response, never an invocation error
(an error would make Lambda retry the whole batch and scale the event source mapping down).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from functions.consumer import StructuredLogger, process_messages
from runner_core.disposition import Decision, Disposition, not_processed
from runner_core.outcomes import QueueMessage

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from functions.settings import FunctionSettings
    from runner_core.protocols import RunnerTarget

FIFO_GROUP_BLOCKED = "an earlier message of its FIFO group was not processed; it runs after that one"


def consume_records(
    records: list[SQSRecord],
    *,
    runner: RunnerTarget,
    settings: FunctionSettings,
    deadline: float | None,
    logger: StructuredLogger,
    cold_start: bool,
) -> PartialItemFailureResponse:
    """Run the records, dead-letter what the core decided to (when RUNNER_DLQ_URL is set), and report the rest of
    what is not acked for redelivery."""
    # FIFO records carry their MessageGroupId; the queue ARN's ".fifo" suffix is the fallback.
    fifo = any(r.attributes.message_group_id or (r.event_source_arn or "").endswith(".fifo") for r in records)
    if fifo:
        decisions = _process_fifo(
            runner, records, settings.max_attempts, deadline, logger=logger, cold_start=cold_start
        )
    else:
        messages = [_queue_message(record, settings.max_attempts) for record in records]
        decisions = process_messages(runner, messages, deadline=deadline, logger=logger, cold_start=cold_start)
    dead = [r for r in records if decisions[r.message_id].disposition is Disposition.DEAD_LETTER]
    sent = _dead_letter(dead, decisions, settings.dlq_url, logger=logger) if settings.dlq_url and dead else set()
    return _failures(
        r.message_id
        for r in records
        if decisions[r.message_id].disposition is not Disposition.ACK and r.message_id not in sent
    )


def retry_all(records: list[SQSRecord]) -> PartialItemFailureResponse:
    """Every record back to the queue (the function could not start)."""
    return _failures(r.message_id for r in records)


def _failures(message_ids: Iterable[str]) -> PartialItemFailureResponse:
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in message_ids]}


def _attempt(record: SQSRecord) -> int:
    try:
        return max(1, int(record.attributes.approximate_receive_count))
    except (TypeError, ValueError):
        return 1


def _queue_message(record: SQSRecord, attempts: int) -> QueueMessage:
    return QueueMessage(
        message_id=record.message_id, body=record.body or "", attempt=_attempt(record), max_attempts=attempts
    )


def _dead_letter(
    records: list[SQSRecord], decisions: dict[str, Decision], dlq_url: str, *, logger: StructuredLogger
) -> set[str]:
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


def _process_fifo(
    runner: RunnerTarget,
    records: list[SQSRecord],
    attempts: int,
    deadline: float | None,
    *,
    logger: StructuredLogger,
    cold_start: bool,
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
