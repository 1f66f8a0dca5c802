"""The task ledger on DynamoDB: conditional `PutItem` / `DeleteItem`, `BatchGetItem` for the producer's lookups.

Contract (Terraform and tools rely on it): the table's only key is a string partition key `pk`; `expires_at`
(epoch seconds) is the TTL attribute. The claim rule (`runner_core.ledger.claimable`) is spelled here as a condition
expression, so the decision and the write are one atomic request; a failed condition returns the item in the way
(`ReturnValuesOnConditionCheckFailure=ALL_OLD`) at no extra request.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from runner_core.ledger import EntryState, LedgerRecord, LedgerUnavailableError

BATCH_GET_MAX_KEYS = 100  # BatchGetItem's limit per request
_UNPROCESSED_ROUNDS = 8
_NAMES = {"#pk": "pk", "#ep": "episode", "#st": "state", "#un": "until", "#tk": "token"}


def dynamodb_client() -> Any:
    """A boto3 DynamoDB client (honours AWS_ENDPOINT_URL, so moto_server works with no code change). Short
    timeouts and few retries: a slow store must turn into a loud fail-open quickly, not a stuck invocation."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"}),
    )


def to_item(record: LedgerRecord) -> dict[str, dict[str, str]]:
    return {
        "pk": {"S": record.key},
        "episode": {"S": record.episode},
        "state": {"S": record.state.value},
        "until": {"N": repr(record.until)},
        "token": {"S": record.token},
        "holder": {"S": record.holder or "-"},
        "expires_at": {"N": str(record.expires_at)},
    }


def from_item(item: dict[str, Any]) -> LedgerRecord:
    holder = item.get("holder", {}).get("S", "")
    return LedgerRecord(
        key=item["pk"]["S"],
        episode=item["episode"]["S"],
        state=EntryState(item["state"]["S"]),
        until=float(item["until"]["N"]),
        token=item["token"]["S"],
        holder="" if holder == "-" else holder,
        expires_at=int(float(item.get("expires_at", {}).get("N", "0"))),
    )


class DynamoDbStore:
    """A `runner_core.ledger.LedgerStore` on one DynamoDB table."""

    def __init__(self, *, table: str, client: Any = None) -> None:
        self.table = table
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = dynamodb_client()
        return self._client

    def get_many(self, keys: Sequence[str]) -> dict[str, LedgerRecord]:
        found: dict[str, LedgerRecord] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), BATCH_GET_MAX_KEYS):
            request: dict[str, Any] = {
                self.table: {
                    "Keys": [{"pk": {"S": key}} for key in unique[start : start + BATCH_GET_MAX_KEYS]],
                    "ConsistentRead": True,
                }
            }
            for round_ in range(_UNPROCESSED_ROUNDS):
                response = self._call("batch_get_item", RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    record = from_item(item)
                    found[record.key] = record
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2**round_, 1.0))  # throttled: back off before asking for the rest
            else:
                raise LedgerUnavailableError(f"DynamoDB left keys of {self.table} unprocessed after retries")
        return found

    def put_if_claimable(
        self, record: LedgerRecord, *, now: float, reclaimable: frozenset[EntryState]
    ) -> LedgerRecord | None:
        # runner_core.ledger.claimable, as a condition: absent, another episode, ran out, or a reclaimable state.
        condition = "attribute_not_exists(#pk) OR #ep <> :ep OR #un <= :now"
        values: dict[str, Any] = {":ep": {"S": record.episode}, ":now": {"N": repr(now)}}
        states = sorted(state.value for state in reclaimable)
        if states:
            names = [f":s{index}" for index in range(len(states))]
            condition += f" OR #st IN ({', '.join(names)})"
            values.update({name: {"S": state} for name, state in zip(names, states, strict=True)})
        return self._put(record, condition, values)

    def put_if_token(self, record: LedgerRecord, *, token: str) -> bool:
        return self._put(record, "#tk = :token", {":token": {"S": token}}) is None

    def delete_if_token(self, key: str, *, token: str) -> bool:
        try:
            self._call(
                "delete_item",
                TableName=self.table,
                Key={"pk": {"S": key}},
                ConditionExpression="#tk = :token",
                ExpressionAttributeNames={"#tk": "token"},
                ExpressionAttributeValues={":token": {"S": token}},
            )
        except _ConditionFailed:
            return False
        return True

    def _put(self, record: LedgerRecord, condition: str, values: dict[str, Any]) -> LedgerRecord | None:
        used = {name: field for name, field in _NAMES.items() if name in condition}
        try:
            self._call(
                "put_item",
                TableName=self.table,
                Item=to_item(record),
                ConditionExpression=condition,
                ExpressionAttributeNames=used,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except _ConditionFailed as failed:
            if failed.item is None:  # nothing stored (a token condition on a deleted record): nothing to return
                return LedgerRecord(key=record.key, episode="", state=EntryState.RUNNING, until=0.0, token="")
            return from_item(failed.item)
        return None

    def _call(self, operation: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ConditionalCheckFailedException":
                raise _ConditionFailed(exc.response.get("Item")) from None
            raise LedgerUnavailableError(
                f"DynamoDB {operation} on {self.table} failed: {error.get('Code', 'error')}"
            ) from exc
        except BotoCoreError as exc:  # no endpoint, timeouts, credentials
            raise LedgerUnavailableError(f"DynamoDB {operation} on {self.table} failed: {type(exc).__name__}") from exc


class _ConditionFailed(Exception):
    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("condition failed")
        self.item = item
