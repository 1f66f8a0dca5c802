"""Encord's signed "work available" notification: verify the signature, then read the event.

Encord signs `f"{timestamp}." + raw body` with HMAC-SHA256 (hex) under the webhook secret and sends the result in
`X-Encord-Signature`, the unix timestamp in `X-Encord-Timestamp`. Hand-written (a dozen lines of `hmac`) because
the only library that does it is encord-agents, which the functions must not depend on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from functions.errors import SignatureError, UnsupportedNotificationError, WebhookError

SIGNATURE_HEADER = "X-Encord-Signature"
TIMESTAMP_HEADER = "X-Encord-Timestamp"
DEFAULT_TOLERANCE_S = 300
WORK_AVAILABLE_EVENT = "agent_stage_work_available_event"
SUPPORTED_VERSION = 1


@dataclass(frozen=True, slots=True)
class WorkAvailable:
    """Tasks are waiting at an agent stage. A hint: the producer lists the stage to see what is really there."""

    uid: str
    project_hash: UUID
    stage_uuid: UUID
    pending_count: int
    reason: str


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, ignoring case (a Lambda event's headers are a plain, lower-cased dict)."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def sign(body: bytes, *, secret: str, timestamp: int | str) -> str:
    """The signature Encord sends for `body` at `timestamp` (used by tests and the local stack)."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_signature(
    body: bytes,
    *,
    signature: str | None,
    timestamp: str | None,
    secret: str,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> None:
    """Raise `SignatureError` unless `signature` is Encord's for `body` at `timestamp`, within `tolerance_s` of now."""
    missing = [name for name, value in ((SIGNATURE_HEADER, signature), (TIMESTAMP_HEADER, timestamp)) if not value]
    if missing or signature is None or timestamp is None:
        raise SignatureError(f"missing {' and '.join(missing)} header")
    try:
        signed_at = int(timestamp)
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not a unix timestamp") from None
    age = abs((time.time() if now is None else now) - signed_at)
    if age > tolerance_s:
        raise SignatureError(f"signature timestamp is {age:.0f} s from now, outside the {tolerance_s} s tolerance")
    expected = sign(body, secret=secret, timestamp=timestamp)
    # Bytes, not str: compare_digest rejects non-ASCII str, and the header is attacker-controlled.
    if not hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace")):
        raise SignatureError("signature does not match the body")


def parse_work_available(body: bytes) -> WorkAvailable | None:
    """The notification in a verified body; None when it is another event type (acknowledge and ignore it)."""
    try:
        envelope: Any = json.loads(body)
    except ValueError:
        raise WebhookError("body is not JSON") from None
    if not isinstance(envelope, dict):
        raise WebhookError("body is not a JSON object")
    if envelope.get("event_type") != WORK_AVAILABLE_EVENT:
        return None
    if envelope.get("version") != SUPPORTED_VERSION:
        raise UnsupportedNotificationError(
            f"notification version {envelope.get('version')!r} is not supported (this function reads "
            f"version {SUPPORTED_VERSION})"
        )
    payload = envelope.get("payload")
    if not isinstance(payload, dict):
        raise WebhookError("notification has no payload object")
    try:
        return WorkAvailable(
            uid=str(envelope.get("uid", "")),
            project_hash=UUID(str(payload["project_hash"])),
            stage_uuid=UUID(str(payload["stage_uuid"])),
            pending_count=int(payload.get("pending_count", 0)),
            reason=str(payload.get("reason", "")),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise WebhookError(f"notification payload is malformed: {type(exc).__name__} on {exc}") from None


def verify_and_parse(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secret: str,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> WorkAvailable | None:
    """Verify, then parse. Nothing in the body is read before the signature checks out."""
    verify_signature(
        body,
        signature=header(headers, SIGNATURE_HEADER),
        timestamp=header(headers, TIMESTAMP_HEADER),
        secret=secret,
        tolerance_s=tolerance_s,
        now=now,
    )
    return parse_work_available(body)
