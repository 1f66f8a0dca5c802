"""Encord's signed "work available" notification: verify the signature, then read the event.

Encord signs `f"{timestamp}." + raw body` with HMAC-SHA256 (hex) under the webhook secret and sends the result in
`X-Encord-Signature`, the unix timestamp in `X-Encord-Timestamp`. Hand-written (a dozen lines of `hmac`) because
the only library that does it is encord-agents, which the functions must not depend on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from functions.errors import SignatureError, UnsupportedNotificationError, WebhookError

SIGNATURE_HEADER = "X-Encord-Signature"
TIMESTAMP_HEADER = "X-Encord-Timestamp"
DEFAULT_TOLERANCE_S = 300
MAX_TIMESTAMP_DIGITS = 12
MAX_REMEMBERED_SIGNATURES = 10_000
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
    # ASCII digits, at most 12 of them: int() alone takes "١٢", " 12" and 309-digit values (OverflowError below).
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= MAX_TIMESTAMP_DIGITS):
        raise SignatureError(f"{TIMESTAMP_HEADER} is not a unix timestamp")
    signed_at = int(timestamp)
    age = abs((time.time() if now is None else now) - signed_at)
    if age > tolerance_s:
        raise SignatureError(f"signature timestamp is {age:.0f} s from now, outside the {tolerance_s} s tolerance")
    expected = sign(body, secret=secret, timestamp=timestamp)
    # Bytes, not str: compare_digest rejects non-ASCII str, and the header is attacker-controlled.
    if not hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace")):
        raise SignatureError("signature does not match the body")


class ReplayGuard:
    """The signatures this process accepted within the tolerance window: the same signed request twice is a replay.

    Per process (a warm Lambda or Cloud Functions instance), which is what one captured request hits when replayed
    at once; bounded, oldest forgotten first. A request replayed to another instance is still limited to the window.
    """

    def __init__(self, *, limit: int = MAX_REMEMBERED_SIGNATURES) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def check_and_remember(self, signature: str, *, now: float, tolerance_s: int) -> None:
        """Raise `SignatureError` when `signature` was accepted before and has not expired; else remember it."""
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now:
                self._seen.popitem(last=False)
            if signature in self._seen:
                raise SignatureError("this signature was already used: a replayed request")
            self._seen[signature] = now + 2 * tolerance_s  # the window is two-sided
            while len(self._seen) > self._limit:
                self._seen.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


replay_guard = ReplayGuard()


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
