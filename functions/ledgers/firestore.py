"""The task ledger on Firestore (native mode): one document per record in `RUNNER_LEDGER_COLLECTION`.

Writes are compare-and-set with preconditions instead of transactions: `create()` fails when the document exists,
and an update or delete is conditioned on the `update_time` the decision was made on. A lost race re-reads and
decides again, so contention never aborts a claim (a transaction would, after its retries) and the decision is
`runner_core.ledger.claimable` itself. `expires_at` is a timestamp, as Firestore TTL policies require.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from runner_core.ledger import EntryState, LedgerRecord, LedgerUnavailableError, claimable

GET_ALL_CHUNK = 300
CALL_TIMEOUT_S = 5.0
_RACE_ROUNDS = 20  # re-read and decide again after a lost precondition; bounded so a bug cannot spin forever
PROJECT_ENV = "GOOGLE_CLOUD_PROJECT"

_T = TypeVar("_T")


def _retry() -> Any:
    """A short retry budget: a store that does not answer must become a loud fail-open in seconds, not minutes."""
    from google.api_core.retry import Retry

    return Retry(initial=0.1, maximum=1.0, multiplier=2.0, timeout=CALL_TIMEOUT_S)


def firestore_client() -> Any:
    """A Firestore client for the function's project (default database); FIRESTORE_EMULATOR_HOST makes it use the
    emulator without credentials."""
    from google.cloud import firestore

    project = os.environ.get(PROJECT_ENV, "").strip() or None
    if project is None and os.environ.get("FIRESTORE_EMULATOR_HOST"):
        project = "runner-core-local"
    return firestore.Client(project=project)


def to_document(record: LedgerRecord) -> dict[str, Any]:
    return {
        "episode": record.episode,
        "state": record.state.value,
        "until": record.until,
        "token": record.token,
        "holder": record.holder,
        "expires_at": datetime.fromtimestamp(record.expires_at, tz=UTC),
    }


def from_document(key: str, data: dict[str, Any]) -> LedgerRecord:
    expires = data.get("expires_at")
    return LedgerRecord(
        key=key,
        episode=str(data["episode"]),
        state=EntryState(data["state"]),
        until=float(data["until"]),
        token=str(data["token"]),
        holder=str(data.get("holder") or ""),
        expires_at=int(expires.timestamp()) if isinstance(expires, datetime) else 0,
    )


class _Lost(Exception):
    """A precondition failed: someone wrote in between; read again."""


class FirestoreStore:
    """A `runner_core.ledger.LedgerStore` on one Firestore collection."""

    def __init__(self, *, collection: str, client: Any = None) -> None:
        self.collection = collection
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = firestore_client()
        return self._client

    def _ref(self, key: str) -> Any:
        return self.client.collection(self.collection).document(key)

    def get_many(self, keys: Sequence[str]) -> dict[str, LedgerRecord]:
        unique = list(dict.fromkeys(keys))
        found: dict[str, LedgerRecord] = {}

        def read() -> None:
            for start in range(0, len(unique), GET_ALL_CHUNK):
                refs = [self._ref(key) for key in unique[start : start + GET_ALL_CHUNK]]
                for snapshot in self.client.get_all(refs, timeout=CALL_TIMEOUT_S, retry=_retry()):
                    if snapshot.exists:
                        found[snapshot.id] = from_document(snapshot.id, snapshot.to_dict())

        self._guard("get_all", read)
        return found

    def put_if_claimable(
        self, record: LedgerRecord, *, now: float, reclaimable: frozenset[EntryState]
    ) -> LedgerRecord | None:
        def attempt() -> LedgerRecord | None:
            snapshot = self._ref(record.key).get(timeout=CALL_TIMEOUT_S, retry=_retry())
            current = from_document(record.key, snapshot.to_dict()) if snapshot.exists else None
            if not claimable(current, episode=record.episode, now=now, reclaimable=reclaimable):
                return current
            self._write(record, snapshot)
            return None

        return self._until_decided(attempt)

    def put_if_token(self, record: LedgerRecord, *, token: str) -> bool:
        def attempt() -> bool:
            snapshot = self._ref(record.key).get(timeout=CALL_TIMEOUT_S, retry=_retry())
            if not snapshot.exists or snapshot.to_dict().get("token") != token:
                return False
            self._write(record, snapshot)
            return True

        return self._until_decided(attempt)

    def delete_if_token(self, key: str, *, token: str) -> bool:
        def attempt() -> bool:
            snapshot = self._ref(key).get(timeout=CALL_TIMEOUT_S, retry=_retry())
            if not snapshot.exists or snapshot.to_dict().get("token") != token:
                return False
            self._conditional(
                lambda: self._ref(key).delete(
                    option=self.client.write_option(last_update_time=snapshot.update_time), timeout=CALL_TIMEOUT_S
                )
            )
            return True

        return self._until_decided(attempt)

    def _write(self, record: LedgerRecord, snapshot: Any) -> None:
        ref = self._ref(record.key)
        if not snapshot.exists:
            self._conditional(lambda: ref.create(to_document(record), timeout=CALL_TIMEOUT_S, retry=_retry()))
            return
        # A precondition on update_time: `set` takes none, `update` does (and replaces every field we store).
        option = self.client.write_option(last_update_time=snapshot.update_time)
        self._conditional(
            lambda: ref.update(to_document(record), option=option, timeout=CALL_TIMEOUT_S, retry=_retry())
        )

    @staticmethod
    def _conditional(write: Callable[[], Any]) -> None:
        from google.api_core import exceptions

        try:
            write()
        except (exceptions.AlreadyExists, exceptions.FailedPrecondition, exceptions.NotFound):
            raise _Lost from None

    def _until_decided(self, attempt: Callable[[], _T]) -> _T:
        for _ in range(_RACE_ROUNDS):
            try:
                return self._guard("write", attempt)
            except _Lost:
                continue
        raise LedgerUnavailableError(f"Firestore {self.collection}: lost {_RACE_ROUNDS} races in a row")

    def _guard(self, operation: str, call: Callable[[], _T]) -> _T:
        from google.api_core import exceptions

        try:
            return call()
        except _Lost:
            raise
        except (exceptions.GoogleAPIError, OSError, ValueError) as exc:
            raise LedgerUnavailableError(
                f"Firestore {operation} on {self.collection} failed: {type(exc).__name__}"
            ) from exc
