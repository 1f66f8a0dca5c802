from __future__ import annotations

import json
import time

import pytest

from functions import webhook
from functions.errors import SignatureError, UnsupportedNotificationError, WebhookError

SECRET = "whsec-test-secret"
BODY = json.dumps(
    {
        "uid": "6f1c2a4e-0b7d-4c1e-9a55-3d2f1e0c9b88",
        "version": 1,
        "source": "encord",
        "event_type": webhook.WORK_AVAILABLE_EVENT,
        "event_created_timestamp": "2026-11-24T05:00:00Z",
        "payload": {
            "project_hash": "00000000-0000-4000-8000-000000000001",
            "stage_uuid": "00000000-0000-4000-8000-000000000002",
            "pending_count": 3,
            "reason": "batch_size_reached",
        },
    }
).encode()


def _headers(body: bytes = BODY, *, at: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = int(time.time()) if at is None else at
    return {"X-Encord-Signature": webhook.sign(body, secret=secret, timestamp=ts), "X-Encord-Timestamp": str(ts)}


def test_valid_signature_parses_the_notification() -> None:
    notification = webhook.verify_and_parse(BODY, _headers(), secret=SECRET)
    assert notification is not None
    assert str(notification.project_hash) == "00000000-0000-4000-8000-000000000001"
    assert str(notification.stage_uuid) == "00000000-0000-4000-8000-000000000002"
    assert notification.pending_count == 3
    assert notification.reason == "batch_size_reached"


def test_headers_are_case_insensitive() -> None:
    lowered = {k.lower(): v for k, v in _headers().items()}
    assert webhook.verify_and_parse(BODY, lowered, secret=SECRET) is not None


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing X-Encord-Signature and X-Encord-Timestamp"),
        ({"X-Encord-Timestamp": "1"}, "missing X-Encord-Signature"),
        ({"X-Encord-Signature": "ab", "X-Encord-Timestamp": "soon"}, "not a unix timestamp"),
    ],
)
def test_missing_or_malformed_headers_are_rejected(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        webhook.verify_and_parse(BODY, headers, secret=SECRET)


def test_wrong_secret_tampered_body_and_stale_timestamp_are_rejected() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        webhook.verify_and_parse(BODY, _headers(secret="other"), secret=SECRET)
    with pytest.raises(SignatureError, match="does not match"):
        webhook.verify_and_parse(BODY + b" ", _headers(), secret=SECRET)
    stale = int(time.time()) - 301
    with pytest.raises(SignatureError, match="outside the 300 s tolerance"):
        webhook.verify_and_parse(BODY, _headers(at=stale), secret=SECRET)
    future = int(time.time()) + 301
    with pytest.raises(SignatureError, match="tolerance"):
        webhook.verify_and_parse(BODY, _headers(at=future), secret=SECRET)


def test_non_ascii_signature_is_a_mismatch_not_a_crash() -> None:
    headers = _headers()
    headers["X-Encord-Signature"] = "é" * 64
    with pytest.raises(SignatureError):
        webhook.verify_and_parse(BODY, headers, secret=SECRET)


def test_other_event_types_are_ignored_and_new_versions_refused() -> None:
    other = json.dumps({"event_type": "something_else", "version": 9}).encode()
    assert webhook.verify_and_parse(other, _headers(other), secret=SECRET) is None
    newer = BODY.replace(b'"version": 1', b'"version": 2')
    with pytest.raises(UnsupportedNotificationError):
        webhook.verify_and_parse(newer, _headers(newer), secret=SECRET)
    broken = b"not json"
    with pytest.raises(WebhookError, match="not JSON"):
        webhook.verify_and_parse(broken, _headers(broken), secret=SECRET)
