"""The ledger's stores (`functions.ledgers`) on real emulators: the same claim-semantics contract as the in-memory
store, against moto_server's DynamoDB and Google's Firestore emulator, plus each store's outage behaviour."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from functions.ledgers import ledger_from_environment
from functions.ledgers.dynamodb import DynamoDbStore
from functions.ledgers.firestore import FirestoreStore
from runner_core.ledger import LedgerSettings, TaskLedger
from tests.integration.functions.fn_harness import FirestoreEmulator, Moto
from tests.ledger_contract import CONTRACT, Clock, check_outage_fails_open_loudly, episode


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_contract_on_dynamodb(name: str, moto: Moto) -> None:
    def make(clock: Clock, **values: Any) -> TaskLedger:
        table = moto.create_ledger_table(f"ledger-{len(made)}")
        made.append(table)
        return TaskLedger(DynamoDbStore(table=table), settings=LedgerSettings(**values), clock=clock)

    made: list[str] = []
    CONTRACT[name](make)


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_contract_on_firestore(name: str, firestore: FirestoreEmulator) -> None:
    def make(clock: Clock, **values: Any) -> TaskLedger:
        return TaskLedger(
            FirestoreStore(collection=f"ledger-{firestore.new_project()}"),
            settings=LedgerSettings(**values),
            clock=clock,
        )

    CONTRACT[name](make)


def test_dynamodb_records_follow_the_table_contract(moto: Moto, ledger_table: str) -> None:
    ledger = TaskLedger(DynamoDbStore(table=ledger_table), settings=LedgerSettings(retention_s=100), clock=Clock())
    target = episode()
    ledger.claim([target], holder=["m1"], lease_s=60)
    item = moto.client("dynamodb").get_item(TableName=ledger_table, Key={"pk": {"S": target.key}})["Item"]
    assert item["state"]["S"] == "running"
    assert item["episode"]["S"] == target.updated_at
    assert int(item["expires_at"]["N"]) == int(Clock().now + 60 + 100) + 1  # epoch seconds, TTL only tidies


def test_environment_picks_the_store(moto: Moto, ledger_table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNNER_LEDGER_TABLE", ledger_table)
    monkeypatch.delenv("RUNNER_LEDGER_COLLECTION", raising=False)
    ledger = ledger_from_environment()
    assert isinstance(ledger, TaskLedger)
    assert isinstance(ledger.store, DynamoDbStore)
    assert ledger_from_environment() is ledger  # one per instance


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dynamodb_outage_fails_open_loudly(
    moto: Moto, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_closed_port()}")
    check_outage_fails_open_loudly(TaskLedger(DynamoDbStore(table="gone"), clock=Clock()), caplog)


def test_firestore_outage_fails_open_loudly(
    firestore: FirestoreEmulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{_closed_port()}")
    check_outage_fails_open_loudly(TaskLedger(FirestoreStore(collection="gone"), clock=Clock()), caplog)
