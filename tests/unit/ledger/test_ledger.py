"""The ledger's state machine (`runner_core.ledger`) over the in-memory store: the shared contract, the outage
modes, and the claim rule itself."""

from __future__ import annotations

from typing import Any

import pytest

from runner_core.ledger import (
    CONSUMER_RECLAIMABLE,
    PRODUCER_RECLAIMABLE,
    EntryState,
    InMemoryStore,
    LedgerRecord,
    LedgerSettings,
    LedgerUnavailableError,
    Settlement,
    TaskLedger,
    claimable,
)
from tests.ledger_contract import CONTRACT, Clock, check_outage_fails_open_loudly, episode


def _memory(clock: Clock, **values: Any) -> TaskLedger:
    return TaskLedger(InMemoryStore(), settings=LedgerSettings(**values), clock=clock)


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_contract_on_the_in_memory_store(name: str) -> None:
    CONTRACT[name](_memory)


def test_outage_fails_open_with_the_log_line(caplog: pytest.LogCaptureFixture) -> None:
    ledger = TaskLedger(InMemoryStore(fail=lambda: True), settings=LedgerSettings(), clock=Clock())
    check_outage_fails_open_loudly(ledger, caplog)


def test_outage_fails_closed_when_asked() -> None:
    ledger = TaskLedger(InMemoryStore(fail=lambda: True), settings=LedgerSettings(fail_closed=True), clock=Clock())
    with pytest.raises(LedgerUnavailableError):
        ledger.claim([episode()], holder=["m1"], lease_s=60)
    with pytest.raises(LedgerUnavailableError):
        ledger.lookup([episode()])
    with pytest.raises(LedgerUnavailableError):
        ledger.acquire_lock("p", episode().stage_uuid, holder="run", lease_s=5)


def test_settle_after_an_outage_never_raises_even_failing_closed() -> None:
    down = False
    store = InMemoryStore(fail=lambda: down)
    ledger = TaskLedger(store, settings=LedgerSettings(fail_closed=True), clock=Clock())
    (claim,) = ledger.claim([episode()], holder=["m1"], lease_s=60)
    down = True
    ledger.settle([(claim, Settlement.DONE)])  # must not raise: the task already ran
    assert ledger.counters.unavailable == 1


def _record(state: EntryState, until: float, episode_stamp: str = "e1") -> LedgerRecord:
    return LedgerRecord(key="k", episode=episode_stamp, state=state, until=until, token="t")


@pytest.mark.parametrize(
    ("state", "live", "consumer", "producer"),
    [
        (EntryState.QUEUED, True, True, False),
        (EntryState.RUNNING, True, False, False),
        (EntryState.DONE, True, False, False),
        (EntryState.FAILED, True, True, False),
        (EntryState.QUEUED, False, True, True),
        (EntryState.RUNNING, False, True, True),
        (EntryState.DONE, False, True, True),
        (EntryState.FAILED, False, True, True),
    ],
)
def test_claim_rule_by_state(state: EntryState, live: bool, consumer: bool, producer: bool) -> None:
    current = _record(state, until=200.0 if live else 50.0)
    assert claimable(current, episode="e1", now=100.0, reclaimable=CONSUMER_RECLAIMABLE) is consumer
    assert claimable(current, episode="e1", now=100.0, reclaimable=PRODUCER_RECLAIMABLE) is producer
    # Another episode (the task came back to the stage) is always claimable, and so is an empty slot.
    assert claimable(current, episode="e2", now=100.0, reclaimable=PRODUCER_RECLAIMABLE)
    assert claimable(None, episode="e1", now=100.0, reclaimable=PRODUCER_RECLAIMABLE)
