"""Tiny handlers that exercise the local stack's delivery machinery without the runner (test code only).

The real consumers never raise nor fail on demand, so these let the delivery tests check the SQS poller and the
Pub/Sub bridge against the real RIE and functions-framework
(ack/nack, partial batches, redrive, dead letters) independently of any agent. A message body is JSON
`{"id": "...", "fail": false|true|"raise"}`; every delivery is appended as one JSON line to `$DELIVERY_RECORD`.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
from typing import Any


class PlantedFailure(Exception):
    """Raised by the handlers to stand for an agent error."""


def _record(entry: dict[str, Any]) -> None:
    path = os.environ.get("DELIVERY_RECORD")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as sink:
        fcntl.flock(sink, fcntl.LOCK_EX)  # several gunicorn threads / RIE instances append to one file
        sink.write(json.dumps(entry) + "\n")


def _parse(body: str) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {"id": None, "fail": True}
    return parsed if isinstance(parsed, dict) else {"id": None, "fail": True}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An SQS handler reporting partial batch failures; `"fail": "raise"` fails the whole invocation."""
    failures: list[dict[str, str]] = []
    remaining = context.get_remaining_time_in_millis()
    for record in event["Records"]:
        message = _parse(record["body"])
        _record(
            {
                "path": "aws",
                "id": message.get("id"),
                "message_id": record["messageId"],
                "receive_count": int(record["attributes"]["ApproximateReceiveCount"]),
                "group": record["attributes"].get("MessageGroupId"),
                "remaining_ms": remaining,
            }
        )
        if message.get("fail") == "raise":
            raise PlantedFailure(f"asked to raise for {message.get('id')}")
        if message.get("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def cloudevent_handler(event: Any) -> None:
    """A Pub/Sub CloudEvent function: raising makes functions-framework answer 500, a nack."""
    data = event.get_data()
    message = data["message"]
    body = base64.b64decode(message.get("data", "")).decode("utf-8", "replace")
    parsed = _parse(body)
    _record(
        {
            "path": "gcp",
            "id": parsed.get("id"),
            "message_id": message.get("messageId"),
            "delivery_attempt": data.get("deliveryAttempt"),
            "subscription": data.get("subscription"),
            "ce_type": event["type"],
            "ce_source": event["source"],
            "ce_id": event["id"],
            "attributes": message.get("attributes", {}),
        }
    )
    if parsed.get("fail"):
        raise PlantedFailure(f"asked to fail for {parsed.get('id')}")
