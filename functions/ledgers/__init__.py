"""The task ledger's stores: `dynamodb` (boto3) and `firestore` (google-cloud-firestore), each imported on demand.

`RUNNER_LEDGER_TABLE` names a DynamoDB table (string partition key `pk`, TTL attribute `expires_at`);
`RUNNER_LEDGER_COLLECTION` names a Firestore collection of the function's project (default database; TTL field
`expires_at`; `FIRESTORE_EMULATOR_HOST` points the client at the emulator). Neither set: no ledger, today's
behaviour, and one warning per instance that a task delivered twice can run twice.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Protocol

from functions.errors import ConfigurationError

if TYPE_CHECKING:
    from runner_core.ledger import Ledger

TABLE_ENV = "RUNNER_LEDGER_TABLE"
COLLECTION_ENV = "RUNNER_LEDGER_COLLECTION"

logger = logging.getLogger("functions.ledger")

_lock = threading.Lock()
_cached: dict[tuple[str, str], Ledger | None] = {}


class UsesLedger(Protocol):
    """A runner that claims its tasks in a ledger (a QueueRunner)."""

    ledger: Ledger | None


def ledger_from_environment() -> Ledger | None:
    """The process's ledger for the configured store (built once per instance), or None when none is configured."""
    from functions.settings import function_settings
    from runner_core.ledger import LedgerSettings, TaskLedger

    settings = function_settings()
    table, collection = settings.ledger_table, settings.ledger_collection
    if table and collection:
        raise ConfigurationError(f"set one of {TABLE_ENV} (AWS) and {COLLECTION_ENV} (GCP), not both")
    key = (table, collection)
    with _lock:
        if key not in _cached:
            if table:
                from functions.ledgers.dynamodb import DynamoDbStore

                _cached[key] = TaskLedger(DynamoDbStore(table=table), settings=LedgerSettings())
            elif collection:
                from functions.ledgers.firestore import FirestoreStore

                _cached[key] = TaskLedger(FirestoreStore(collection=collection), settings=LedgerSettings())
            else:
                logger.warning(
                    "no task ledger configured (%s / %s): a task delivered or published twice can run twice",
                    TABLE_ENV,
                    COLLECTION_ENV,
                    extra={"event": "ledger_unconfigured"},
                )
                _cached[key] = None
        return _cached[key]


def attach_ledger(runner: object) -> Ledger | None:
    """Give a runner without a ledger of its own the environment's (a runner built with `ledger=` keeps it)."""
    ledger: Ledger | None = getattr(runner, "ledger", None)
    if ledger is not None:
        return ledger
    ledger = ledger_from_environment()
    if ledger is not None and hasattr(runner, "ledger"):
        runner.ledger = ledger
    return ledger


def clear_cache() -> None:
    """Forget built ledgers (tests switch stores between cases)."""
    with _lock:
        _cached.clear()
