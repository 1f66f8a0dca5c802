"""The task ledger: one record per task episode in a store with conditional writes, so an agent runs once per episode
whatever the triggers and deliveries.

An episode is (project, stage, task uuid, the task's `updated_at` as Encord reports it now): a task sent back to the
stage later has a new `updated_at` and is a new episode. The record of a task is keyed by (project, stage, task) and
holds the episode it is about, so a new episode simply replaces the old record.

States and what `until` (epoch seconds) means for each:

    queued   the producer published it; blocks re-publishing until `until` (a lost message is re-published then)
    running  a consumer claimed it; the claim (lease) lasts until `until`, so a crashed worker's claim runs out
    done     moved (kept for the retention window) or held (for the re-check interval, then it may run again)
    failed   failed permanently: the producer does not re-publish it until `until` (a redrive still runs it)

A retryable failure releases the claim back to `queued` (the queue redelivers the message). Correctness never depends
on the store deleting expired records (DynamoDB / Firestore TTL on `expires_at` only tidies): every read compares
`until` with the clock.

The decisions live here, once: `claimable` is the rule every store applies inside its conditional write (DynamoDB
spells it as a condition expression, Firestore evaluates this very function in a transaction). The stores
(`LedgerStore`) are beside the cloud functions (`functions.ledgers`) and only read, conditionally write and delete.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, TypeVar
from uuid import UUID

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from runner_core.errors import RetryableError

if TYPE_CHECKING:
    from datetime import datetime

logger = logging.getLogger("runner_core.ledger")


class EntryState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


# What a consumer may claim over while the record is still live: a queued task is what the queue delivers; a failed
# one arrives again only through a person's redrive (the producer does not re-publish it), which must run.
CONSUMER_RECLAIMABLE: frozenset[EntryState] = frozenset({EntryState.QUEUED, EntryState.FAILED})
# The producer marks a task queued only where nothing live stands.
PRODUCER_RECLAIMABLE: frozenset[EntryState] = frozenset()


class LedgerUnavailableError(RetryableError):
    """The ledger's store could not be read or written (outage, throttling, permissions)."""


class ClaimHeldError(RetryableError):
    """This very message already holds a live claim (its visibility or ack deadline ran out while it still runs):
    retry it later instead of running the task twice."""


@dataclass(frozen=True, slots=True)
class Episode:
    project_hash: str
    stage_uuid: UUID
    task_uuid: UUID
    updated_at: str  # the task's updated_at, ISO 8601 as the SDK parsed it

    @classmethod
    def of(cls, *, project_hash: str, stage_uuid: UUID, task_uuid: UUID, updated_at: datetime | str) -> Episode:
        stamp = updated_at if isinstance(updated_at, str) else updated_at.isoformat()
        return cls(project_hash=str(project_hash), stage_uuid=stage_uuid, task_uuid=task_uuid, updated_at=stamp)

    @property
    def key(self) -> str:
        return f"task#{self.project_hash}#{self.stage_uuid}#{self.task_uuid}"


def lock_key(project_hash: str, stage_uuid: UUID) -> str:
    return f"producer#{project_hash}#{stage_uuid}"


def cursor_key(project_hash: str, stage_uuid: UUID) -> str:
    return f"cursor#{project_hash}#{stage_uuid}"


ALL_STATES: frozenset[EntryState] = frozenset(EntryState)


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    """One stored record. `token` is unique per write that takes ownership (a claim, a queued mark, a lock), so a
    later settle or release only lands while that ownership still stands."""

    key: str
    episode: str
    state: EntryState
    until: float
    token: str
    holder: str = ""  # who owns it: a message id (claims), a producer run id (locks, queued marks)
    expires_at: int = 0  # epoch seconds for the store's TTL deletion (tidying only)

    def live(self, now: float) -> bool:
        return self.until > now


def claimable(current: LedgerRecord | None, *, episode: str, now: float, reclaimable: frozenset[EntryState]) -> bool:
    """May a new owner write over `current`? Yes when nothing is stored, the record is about another episode, its
    time ran out, or its state is one this writer takes over while live (`reclaimable`)."""
    return current is None or current.episode != episode or not current.live(now) or current.state in reclaimable


class LedgerStore(Protocol):
    """What a cloud store offers the ledger: batched reads and three conditional writes. Every method raises
    `LedgerUnavailableError` when the store cannot answer."""

    def get_many(self, keys: Sequence[str]) -> dict[str, LedgerRecord]:
        """The records stored under `keys` (absent keys are left out)."""
        ...

    def put_if_claimable(
        self, record: LedgerRecord, *, now: float, reclaimable: frozenset[EntryState]
    ) -> LedgerRecord | None:
        """Write `record` if `claimable(current, episode=record.episode, now=now, reclaimable=reclaimable)` holds,
        atomically. Returns None when written, else the record that stood in the way."""
        ...

    def put_if_token(self, record: LedgerRecord, *, token: str) -> bool:
        """Replace the record under `record.key` if its token is still `token`. True when written."""
        ...

    def delete_if_token(self, key: str, *, token: str) -> bool:
        """Delete the record under `key` if its token is still `token`. True when deleted."""
        ...


class LedgerSettings(BaseSettings):
    """`RUNNER_LEDGER_*`: the windows of the ledger's states and how an outage is handled."""

    model_config = SettingsConfigDict(env_prefix="RUNNER_LEDGER_", extra="ignore")

    lease_margin_s: float = Field(
        default=15.0,
        ge=0,
        description="A claim lasts until the invocation's deadline plus this margin (at least the deadline margin, "
        "so it outlives the invocation); keep the function timeout plus it below the visibility timeout so a crashed "
        "worker's message is taken over.",
    )
    default_lease_s: float = Field(default=900.0, gt=0, description="The lease when the caller gives no deadline.")
    held_recheck_s: float = Field(
        default=900.0, ge=0, description="A held task (no pathway returned) runs again after this, not every tick."
    )
    failed_window_s: float = Field(
        default=86_400.0, ge=0, description="A permanently failed task is not re-published for this long."
    )
    queued_window_s: float = Field(
        default=3_600.0,
        gt=0,
        description="A published task is not re-published for this long (a lost message is re-sent after it).",
    )
    done_window_s: float = Field(
        default=7 * 86_400.0, gt=0, description="How long a moved task's record blocks a late duplicate."
    )
    retention_s: float = Field(
        default=86_400.0, ge=0, description="Records stay this long after `until` before TTL may delete them."
    )
    fail_closed: bool = Field(
        default=False,
        description="When the store is down: False runs tasks anyway (duplicates possible, logged loudly); "
        "True fails them retryably and publishes nothing.",
    )


class ClaimStatus(StrEnum):
    CLAIMED = "claimed"  # run the task
    DUPLICATE = "duplicate"  # another delivery holds it, or it is done for this episode: skip it (ack)
    HELD_BY_THIS_MESSAGE = "held_by_this_message"  # a redelivery of the running message: retry later
    UNCHECKED = "unchecked"  # the store was down and the ledger fails open: run without a claim


@dataclass(frozen=True, slots=True)
class Claim:
    episode: Episode
    status: ClaimStatus
    record: LedgerRecord | None = None  # ours when CLAIMED; the one in the way for DUPLICATE / HELD_BY_THIS_MESSAGE

    @property
    def runs(self) -> bool:
        return self.status in (ClaimStatus.CLAIMED, ClaimStatus.UNCHECKED)

    @property
    def reason(self) -> str:
        current = self.record
        if self.status is ClaimStatus.DUPLICATE and current is not None:
            if current.state is EntryState.RUNNING:
                return "duplicate: the task is running in another delivery"
            return f"duplicate: the task is {current.state.value} for this episode"
        if self.status is ClaimStatus.HELD_BY_THIS_MESSAGE:
            return "this message's earlier delivery is still running the task; retry later"
        return self.status.value


class Settlement(StrEnum):
    DONE = "done"  # moved, or routed along the failure pathway
    HELD = "held"  # no pathway: done for the re-check interval
    RELEASED = "released"  # retryable failure: back to queued, the queue redelivers
    FAILED = "failed"  # permanent failure: not re-published for the failed window


class Seen(StrEnum):
    """What the producer learns about a listed task."""

    NEW = "new"  # nothing live: publish it
    IN_FLIGHT = "in_flight"  # queued or running
    DONE_RECENTLY = "done_recently"  # moved or held recently
    FAILED_RECENTLY = "failed_recently"


@dataclass(frozen=True, slots=True)
class ProducerLock:
    key: str
    token: str
    until: float


@dataclass(slots=True)
class LedgerCounters:
    """Per-process counts an operator can read (and tests assert on)."""

    store_requests: int = 0
    unavailable: int = 0
    lost_settles: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)


class Ledger(Protocol):
    """What runners and producers use (implemented by `TaskLedger` over any `LedgerStore`)."""

    settings: LedgerSettings
    counters: LedgerCounters

    def claim(self, episodes: Sequence[Episode], *, holder: Sequence[str], lease_s: float) -> list[Claim]: ...

    def settle(self, claims: Sequence[tuple[Claim, Settlement]]) -> None: ...

    def lookup(self, episodes: Sequence[Episode]) -> list[Seen]: ...

    def mark_queued(self, episodes: Sequence[Episode], *, holder: str) -> list[LedgerRecord | None]: ...

    def unmark_queued(self, marks: Iterable[LedgerRecord]) -> None: ...

    def acquire_lock(
        self, project_hash: str, stage_uuid: UUID, *, holder: str, lease_s: float
    ) -> ProducerLock | None: ...

    def release_lock(self, lock: ProducerLock) -> None: ...

    def read_cursor(self, project_hash: str, stage_uuid: UUID) -> str | None: ...

    def save_cursor(self, project_hash: str, stage_uuid: UUID, cursor: str | None) -> None: ...


_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
WRITE_CONCURRENCY = 16


def _write_pool() -> ThreadPoolExecutor:
    """One pool per process for the per-task conditional writes (they are independent round trips)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=WRITE_CONCURRENCY, thread_name_prefix="runner-core-ledger")
        return _pool


_T = TypeVar("_T")
_R = TypeVar("_R")


def _parallel(call: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    if len(items) <= 1:
        return [call(item) for item in items]
    return list(_write_pool().map(call, items))


class TaskLedger:
    """The ledger's state machine over a store. Thread-safe; one per process is enough."""

    def __init__(
        self,
        store: LedgerStore,
        *,
        settings: LedgerSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings if settings is not None else LedgerSettings()
        self.counters = LedgerCounters()
        self._clock = clock

    # --- consumer ----------------------------------------------------------------------------------------------

    def claim(self, episodes: Sequence[Episode], *, holder: Sequence[str], lease_s: float) -> list[Claim]:
        """Claim each episode for its delivery (`holder[i]`, the message id): one conditional write per task, in
        parallel. Raises `LedgerUnavailableError` only when the ledger fails closed."""
        if len(holder) != len(episodes):
            raise ValueError("one holder per episode")
        return _parallel(
            lambda pair: self._claim_one(pair[0], pair[1], lease_s), list(zip(episodes, holder, strict=True))
        )

    def _claim_one(self, episode: Episode, holder: str, lease_s: float) -> Claim:
        now = self._clock()
        record = LedgerRecord(
            key=episode.key,
            episode=episode.updated_at,
            state=EntryState.RUNNING,
            until=now + lease_s,
            token=uuid.uuid4().hex,
            holder=holder,
            expires_at=self._expires(now + lease_s),
        )
        try:
            self.counters.add("store_requests")
            current = self.store.put_if_claimable(record, now=now, reclaimable=CONSUMER_RECLAIMABLE)
        except LedgerUnavailableError as exc:
            self._unavailable("claim", exc)
            return Claim(episode=episode, status=ClaimStatus.UNCHECKED)
        if current is None:
            return Claim(episode=episode, status=ClaimStatus.CLAIMED, record=record)
        if current.state is EntryState.RUNNING and current.holder == holder:
            return Claim(episode=episode, status=ClaimStatus.HELD_BY_THIS_MESSAGE, record=current)
        return Claim(episode=episode, status=ClaimStatus.DUPLICATE, record=current)

    def settle(self, claims: Sequence[tuple[Claim, Settlement]]) -> None:
        """Record how each claimed task ended. A settle that finds its claim taken over (the lease ran out) is
        counted and logged, never raised: the task already ran."""
        owned = [(claim, how) for claim, how in claims if claim.status is ClaimStatus.CLAIMED and claim.record]
        _parallel(lambda pair: self._settle_one(*pair), owned)

    def _settle_one(self, claim: Claim, how: Settlement) -> None:
        assert claim.record is not None
        now = self._clock()
        window = {
            Settlement.DONE: (EntryState.DONE, self.settings.done_window_s),
            Settlement.HELD: (EntryState.DONE, self.settings.held_recheck_s),
            Settlement.RELEASED: (EntryState.QUEUED, self.settings.queued_window_s),
            Settlement.FAILED: (EntryState.FAILED, self.settings.failed_window_s),
        }
        state, seconds = window[how]
        settled = replace(claim.record, state=state, until=now + seconds, expires_at=self._expires(now + seconds))
        try:
            self.counters.add("store_requests")
            written = self.store.put_if_token(settled, token=claim.record.token)
        except LedgerUnavailableError as exc:
            self._unavailable("settle", exc, after_the_fact=True)
            return
        if not written:
            self.counters.add("lost_settles")
            logger.warning(
                "ledger: the claim on task %s was taken over before it settled (lease too short?)",
                claim.episode.task_uuid,
                extra={"event": "ledger_claim_lost", "task_uuid": str(claim.episode.task_uuid), "settle": how.value},
            )

    # --- producer ----------------------------------------------------------------------------------------------

    def lookup(self, episodes: Sequence[Episode]) -> list[Seen]:
        """What the ledger knows of each episode now (one batched read per call; the store splits it as needed).
        When the store is down: everything is NEW (fail open) or `LedgerUnavailableError` (fail closed)."""
        if not episodes:
            return []
        try:
            self.counters.add("store_requests")
            found = self.store.get_many([episode.key for episode in episodes])
        except LedgerUnavailableError as exc:
            self._unavailable("lookup", exc)
            return [Seen.NEW] * len(episodes)
        now = self._clock()
        return [self._seen(found.get(episode.key), episode, now) for episode in episodes]

    @staticmethod
    def _seen(record: LedgerRecord | None, episode: Episode, now: float) -> Seen:
        if record is None or record.episode != episode.updated_at or not record.live(now):
            return Seen.NEW
        if record.state is EntryState.DONE:
            return Seen.DONE_RECENTLY
        if record.state is EntryState.FAILED:
            return Seen.FAILED_RECENTLY
        return Seen.IN_FLIGHT

    def mark_queued(self, episodes: Sequence[Episode], *, holder: str) -> list[LedgerRecord | None]:
        """Mark each episode queued where nothing live stands (conditional writes, in parallel). Returns, per
        episode, the mark written (publish it) or None (something live won the race, or the store is down and
        the ledger fails open: then the mark is a synthetic one and publishing goes ahead)."""
        return _parallel(lambda episode: self._mark_one(episode, holder), list(episodes))

    def _mark_one(self, episode: Episode, holder: str) -> LedgerRecord | None:
        now = self._clock()
        until = now + self.settings.queued_window_s
        record = LedgerRecord(
            key=episode.key,
            episode=episode.updated_at,
            state=EntryState.QUEUED,
            until=until,
            token=uuid.uuid4().hex,
            holder=holder,
            expires_at=self._expires(until),
        )
        try:
            self.counters.add("store_requests")
            current = self.store.put_if_claimable(record, now=now, reclaimable=PRODUCER_RECLAIMABLE)
        except LedgerUnavailableError as exc:
            self._unavailable("mark_queued", exc)
            return record
        return record if current is None else None

    def unmark_queued(self, marks: Iterable[LedgerRecord]) -> None:
        """Undo queued marks whose message was not published (so the next run publishes them)."""

        def undo(mark: LedgerRecord) -> None:
            try:
                self.counters.add("store_requests")
                self.store.delete_if_token(mark.key, token=mark.token)
            except LedgerUnavailableError as exc:
                self._unavailable("unmark_queued", exc, after_the_fact=True)

        _parallel(undo, list(marks))

    def acquire_lock(self, project_hash: str, stage_uuid: UUID, *, holder: str, lease_s: float) -> ProducerLock | None:
        """One producer run at a time per project and stage. None when another run holds a live lock. Fails open
        (a lock that is not really held) when the store is down, unless the ledger fails closed."""
        now = self._clock()
        key = lock_key(project_hash, stage_uuid)
        record = LedgerRecord(
            key=key,
            episode="lock",
            state=EntryState.RUNNING,
            until=now + lease_s,
            token=uuid.uuid4().hex,
            holder=holder,
            expires_at=self._expires(now + lease_s),
        )
        try:
            self.counters.add("store_requests")
            current = self.store.put_if_claimable(record, now=now, reclaimable=frozenset())
        except LedgerUnavailableError as exc:
            self._unavailable("acquire_lock", exc)
            return ProducerLock(key=key, token=record.token, until=record.until)
        if current is not None:
            return None
        return ProducerLock(key=key, token=record.token, until=record.until)

    def release_lock(self, lock: ProducerLock) -> None:
        try:
            self.counters.add("store_requests")
            self.store.delete_if_token(lock.key, token=lock.token)
        except LedgerUnavailableError as exc:  # the lease runs out on its own
            self._unavailable("release_lock", exc, after_the_fact=True)

    def read_cursor(self, project_hash: str, stage_uuid: UUID) -> str | None:
        """Where the last producer run of this stage stopped (None: start from the beginning)."""
        key = cursor_key(project_hash, stage_uuid)
        try:
            self.counters.add("store_requests")
            record = self.store.get_many([key]).get(key)
        except LedgerUnavailableError as exc:
            self._unavailable("read_cursor", exc, after_the_fact=True)
            return None
        if record is None or not record.live(self._clock()):
            return None
        return record.episode or None

    def save_cursor(self, project_hash: str, stage_uuid: UUID, cursor: str | None) -> None:
        """Only the lock holder writes it, so the write is unconditional (any state is taken over)."""
        now = self._clock()
        until = now + self.settings.queued_window_s
        record = LedgerRecord(
            key=cursor_key(project_hash, stage_uuid),
            episode=cursor or "",
            state=EntryState.DONE,
            until=until,
            token=uuid.uuid4().hex,
            expires_at=self._expires(until),
        )
        try:
            self.counters.add("store_requests")
            self.store.put_if_claimable(record, now=now, reclaimable=ALL_STATES)
        except LedgerUnavailableError as exc:
            self._unavailable("save_cursor", exc, after_the_fact=True)

    # --- helpers -----------------------------------------------------------------------------------------------

    def _expires(self, until: float) -> int:
        return int(until + self.settings.retention_s) + 1

    def _unavailable(self, operation: str, exc: LedgerUnavailableError, *, after_the_fact: bool = False) -> None:
        """Log loudly and count; raise when failing closed, except for writes after the work was done (settles,
        releases), which have nothing left to stop and whose records run out on their own."""
        self.counters.add("unavailable")
        if self.settings.fail_closed and not after_the_fact:
            logger.error(
                "LEDGER UNAVAILABLE during %s: failing closed (RUNNER_LEDGER_FAIL_CLOSED): %s",
                operation,
                exc,
                extra={"event": "ledger_unavailable", "operation": operation, "fail_closed": True},
            )
            raise exc
        logger.error(
            "LEDGER UNAVAILABLE during %s: failing open, so a task may run or be published twice "
            "(set RUNNER_LEDGER_FAIL_CLOSED=true to stop instead): %s",
            operation,
            exc,
            extra={"event": "ledger_unavailable", "operation": operation, "fail_closed": False},
        )


class InMemoryStore:
    """A `LedgerStore` in this process's memory: for one process (a laptop, a SequentialRunner, unit tests).
    It shares nothing between instances or processes, so it is no substitute for the cloud stores."""

    def __init__(self, *, fail: Callable[[], bool] | None = None) -> None:
        self._records: dict[str, LedgerRecord] = {}
        self._lock = threading.Lock()
        self._fail = fail

    def _check(self) -> None:
        if self._fail is not None and self._fail():
            raise LedgerUnavailableError("in-memory store switched off")

    def get_many(self, keys: Sequence[str]) -> dict[str, LedgerRecord]:
        self._check()
        with self._lock:
            return {key: self._records[key] for key in keys if key in self._records}

    def put_if_claimable(
        self, record: LedgerRecord, *, now: float, reclaimable: frozenset[EntryState]
    ) -> LedgerRecord | None:
        self._check()
        with self._lock:
            current = self._records.get(record.key)
            if not claimable(current, episode=record.episode, now=now, reclaimable=reclaimable):
                return current
            self._records[record.key] = record
            return None

    def put_if_token(self, record: LedgerRecord, *, token: str) -> bool:
        self._check()
        with self._lock:
            current = self._records.get(record.key)
            if current is None or current.token != token:
                return False
            self._records[record.key] = record
            return True

    def delete_if_token(self, key: str, *, token: str) -> bool:
        self._check()
        with self._lock:
            current = self._records.get(key)
            if current is None or current.token != token:
                return False
            del self._records[key]
            return True

    def snapshot(self) -> Mapping[str, LedgerRecord]:
        with self._lock:
            return dict(self._records)


__all__ = [
    "CONSUMER_RECLAIMABLE",
    "PRODUCER_RECLAIMABLE",
    "Claim",
    "ClaimHeldError",
    "ClaimStatus",
    "EntryState",
    "Episode",
    "InMemoryStore",
    "Ledger",
    "LedgerCounters",
    "LedgerRecord",
    "LedgerSettings",
    "LedgerStore",
    "LedgerUnavailableError",
    "ProducerLock",
    "Seen",
    "Settlement",
    "TaskLedger",
    "claimable",
    "lock_key",
]
