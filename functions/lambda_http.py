"""Lambda's HTTP events (function URL, API Gateway v1/v2) in and out, for the producer's webhook path.

Hand-read rather than through Powertools' event classes: signature verification needs the body's exact bytes, and
`decoded_body` returns text.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from functions.trigger import HttpAnswer


def is_http_event(event: Mapping[str, Any]) -> bool:
    """A function URL or API Gateway request (it has headers and a body or request context), not a schedule."""
    return isinstance(event.get("headers"), dict) and ("body" in event or "requestContext" in event)


def request(event: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The request's exact body bytes and its headers."""
    raw = event.get("body") or ""
    try:
        body = base64.b64decode(str(raw), validate=True) if event.get("isBase64Encoded") else str(raw).encode()
    except ValueError:  # binascii.Error: the signature cannot match a body nobody can read
        body = b""
    headers = {str(k): str(v) for k, v in (event.get("headers") or {}).items()}
    return body, headers


def response(answer: HttpAnswer) -> dict[str, Any]:
    return {
        "statusCode": answer.status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(answer.body),
    }


__all__ = ["is_http_event", "request", "response"]
