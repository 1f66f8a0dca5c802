"""The ledger's claim semantics, written once and run against every store: the in-memory one (unit tests of the
state machine), moto_server's DynamoDB and Google's Firestore emulator (integration tests).

`make_ledger(clock, **settings)` builds a fresh `TaskLedger` over an empty store whose clock the test controls.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import pytest

from runner_core.ledger import ClaimStatus, Episode, LedgerSettings, Seen, Settlement, TaskLedger

PROJECT = "00000000-0000-4000-8000-000000000001"
STAGE = uuid.UUID("00000000-0000-4000-8000-0000000000a1")


class Clock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class LedgerFactory(Protocol):
    def __call__(self, clock: Clock, **settings: Any) -> TaskLedger: ...


def episode(task: uuid.UUID | None = None, updated_at: str = "2026-11-30T00:00:00+00:00") -> Episode:
    return Episode.of(project_hash=PROJECT, stage_uuid=STAGE, task_uuid=task or uuid.uuid4(), updated_at=updated_at)


def check_one_winner_among_threads(make_ledger: LedgerFactory, threads: int = 8) -> None:
    ledger = make_ledger(Clock())
    target = episode()
    barrier = threading.Barrier(threads)
    statuses: list[ClaimStatus] = []
    lock = threading.Lock()

    def contend(index: int) -> None:
        barrier.wait()
        (claim,) = ledger.claim([target], holder=[f"message-{index}"], lease_s=60)
        with lock:
            statuses.append(claim.status)

    workers = [threading.Thread(target=contend, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert statuses.count(ClaimStatus.CLAIMED) == 1
    assert statuses.count(ClaimStatus.DUPLICATE) == threads - 1


def check_crashed_holder_taken_over_after_lease(make_ledger: LedgerFactory) -> None:
    clock = Clock()
    ledger = make_ledger(clock)
    target = episode()
    (first,) = ledger.claim([target], holder=["m1"], lease_s=30)
    assert first.status is ClaimStatus.CLAIMED
    clock.advance(29)
    (early,) = ledger.claim([target], holder=["m2"], lease_s=30)
    assert early.status is ClaimStatus.DUPLICATE
    assert ledger.lookup([target]) == [Seen.IN_FLIGHT]
    clock.advance(2)  # the first holder crashed: its lease ran out
    (late,) = ledger.claim([target], holder=["m2"], lease_s=30)
    assert late.status is ClaimStatus.CLAIMED
    # The crashed holder's settle arrives after all: it must not overwrite the new claim.
    ledger.settle([(first, Settlement.DONE)])
    assert ledger.counters.lost_settles == 1
    (third,) = ledger.claim([target], holder=["m3"], lease_s=30)
    assert third.status is ClaimStatus.DUPLICATE


def check_redelivery_of_the_running_message_retries_later(make_ledger: LedgerFactory) -> None:
    ledger = make_ledger(Clock())
    target = episode()
    (first,) = ledger.claim([target], holder=["m1"], lease_s=60)
    (again,) = ledger.claim([target], holder=["m1"], lease_s=60)
    assert first.status is ClaimStatus.CLAIMED
    assert again.status is ClaimStatus.HELD_BY_THIS_MESSAGE
    assert not again.runs


def check_new_updated_at_runs_again(make_ledger: LedgerFactory) -> None:
    ledger = make_ledger(Clock())
    task = uuid.uuid4()
    old, new = episode(task, "2026-11-30T00:00:00+00:00"), episode(task, "2026-11-30T01:00:00+00:00")
    (first,) = ledger.claim([old], holder=["m1"], lease_s=60)
    ledger.settle([(first, Settlement.DONE)])
    assert ledger.lookup([old, new]) == [Seen.DONE_RECENTLY, Seen.NEW]
    (second,) = ledger.claim([new], holder=["m2"], lease_s=60)
    assert second.status is ClaimStatus.CLAIMED
    assert ledger.lookup([new]) == [Seen.IN_FLIGHT]


def check_held_reruns_once_per_interval(make_ledger: LedgerFactory) -> None:
    clock = Clock()
    ledger = make_ledger(clock, held_recheck_s=900)
    target = episode()
    runs = 0
    for _tick in range(12):  # a producer tick every 5 minutes for an hour
        if ledger.lookup([target]) == [Seen.NEW]:
            (mark,) = ledger.mark_queued([target], holder="producer")
            assert mark is not None
            (claim,) = ledger.claim([target], holder=[f"m{_tick}"], lease_s=60)
            assert claim.status is ClaimStatus.CLAIMED
            runs += 1
            ledger.settle([(claim, Settlement.HELD)])
        clock.advance(300)
    assert runs == 4  # at 0, 15, 30 and 45 minutes


def check_permanent_failure_not_republished_until_window_ends(make_ledger: LedgerFactory) -> None:
    clock = Clock()
    ledger = make_ledger(clock, failed_window_s=3600)
    target = episode()
    (claim,) = ledger.claim([target], holder=["m1"], lease_s=60)
    ledger.settle([(claim, Settlement.FAILED)])
    assert ledger.lookup([target]) == [Seen.FAILED_RECENTLY]
    assert ledger.mark_queued([target], holder="producer") == [None]
    # A person's redrive from the dead-letter queue still runs it.
    (redrive,) = ledger.claim([target], holder=["m1-redriven"], lease_s=60)
    assert redrive.status is ClaimStatus.CLAIMED
    ledger.settle([(redrive, Settlement.FAILED)])
    clock.advance(3601)
    assert ledger.lookup([target]) == [Seen.NEW]
    assert ledger.mark_queued([target], holder="producer")[0] is not None


def check_retryable_failure_releases_to_queued(make_ledger: LedgerFactory) -> None:
    ledger = make_ledger(Clock())
    target = episode()
    (claim,) = ledger.claim([target], holder=["m1"], lease_s=60)
    ledger.settle([(claim, Settlement.RELEASED)])
    assert ledger.lookup([target]) == [Seen.IN_FLIGHT]  # the queue redelivers it: not re-published
    (redelivered,) = ledger.claim([target], holder=["m1"], lease_s=60)
    assert redelivered.status is ClaimStatus.CLAIMED


def check_producer_marks_once_and_lock_is_exclusive(make_ledger: LedgerFactory) -> None:
    clock = Clock()
    ledger = make_ledger(clock, queued_window_s=600)
    targets = [episode() for _ in range(5)]
    first = ledger.mark_queued(targets, holder="run-1")
    assert all(mark is not None for mark in first)
    assert ledger.mark_queued(targets, holder="run-2") == [None] * 5
    ledger.unmark_queued([mark for mark in first[:2] if mark is not None])  # their publish failed
    assert ledger.lookup(targets) == [Seen.NEW] * 2 + [Seen.IN_FLIGHT] * 3
    lock = ledger.acquire_lock(PROJECT, STAGE, holder="run-1", lease_s=30)
    assert lock is not None
    assert ledger.acquire_lock(PROJECT, STAGE, holder="run-2", lease_s=30) is None
    ledger.release_lock(lock)
    again = ledger.acquire_lock(PROJECT, STAGE, holder="run-2", lease_s=30)
    assert again is not None
    clock.advance(31)  # run-2 died holding it
    assert ledger.acquire_lock(PROJECT, STAGE, holder="run-3", lease_s=30) is not None


def check_lookup_batches_many(make_ledger: LedgerFactory, count: int = 230) -> None:
    ledger = make_ledger(Clock())
    targets = [episode() for _ in range(count)]
    ledger.mark_queued(targets[::2], holder="run")
    seen = ledger.lookup(targets)
    assert seen == [Seen.IN_FLIGHT if i % 2 == 0 else Seen.NEW for i in range(count)]


CONTRACT: dict[str, Callable[[LedgerFactory], None]] = {
    "one_winner_among_threads": check_one_winner_among_threads,
    "crashed_holder_taken_over_after_lease": check_crashed_holder_taken_over_after_lease,
    "redelivery_of_the_running_message_retries_later": check_redelivery_of_the_running_message_retries_later,
    "new_updated_at_runs_again": check_new_updated_at_runs_again,
    "held_reruns_once_per_interval": check_held_reruns_once_per_interval,
    "permanent_failure_not_republished_until_window_ends": check_permanent_failure_not_republished_until_window_ends,
    "retryable_failure_releases_to_queued": check_retryable_failure_releases_to_queued,
    "producer_marks_once_and_lock_is_exclusive": check_producer_marks_once_and_lock_is_exclusive,
    "lookup_batches_many": check_lookup_batches_many,
}


def check_outage_fails_open_loudly(ledger: TaskLedger, caplog: pytest.LogCaptureFixture) -> None:
    """`ledger` is over a store that cannot be reached."""
    target = episode()
    with caplog.at_level(logging.ERROR, logger="runner_core.ledger"):
        (claim,) = ledger.claim([target], holder=["m1"], lease_s=60)
        seen = ledger.lookup([target])
    assert claim.status is ClaimStatus.UNCHECKED
    assert claim.runs
    assert seen == [Seen.NEW]
    assert ledger.counters.unavailable == 2
    assert any("LEDGER UNAVAILABLE" in record.getMessage() for record in caplog.records)


def settings(**values: Any) -> LedgerSettings:
    return LedgerSettings(**values)
