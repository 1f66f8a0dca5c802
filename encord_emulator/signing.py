"""Signed media URLs: the emulator's stand-in for a bucket's expiring signed URLs."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import quote
from uuid import UUID

MALFORMED_EXPIRY = "malformed expiry"
MALFORMED_SIGNATURE = "malformed signature"
MALFORMED = frozenset({MALFORMED_EXPIRY, MALFORMED_SIGNATURE})  # 400, not 403: the request itself is broken


class UrlSigner:
    def __init__(self, *, ttl_s: float, secret: bytes | None = None) -> None:
        self.ttl_s = ttl_s
        self._secret = secret or secrets.token_bytes(32)

    def _signature(self, item_uuid: str, expires: int) -> str:
        message = f"{item_uuid}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign(self, *, base_url: str, item_uuid: UUID, name: str, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + self.ttl_s)
        signature = self._signature(str(item_uuid), expires)
        return f"{base_url}/files/{item_uuid}/{quote(name)}?expires={expires}&sig={signature}"

    def unsigned(self, *, base_url: str, item_uuid: UUID, name: str) -> str:
        return f"{base_url}/files/{item_uuid}/{quote(name)}"

    def check(self, *, item_uuid: str, expires: str | None, signature: str | None) -> str | None:
        """None when the URL is valid, else the reason it is not."""
        if expires is None or signature is None:
            return "missing signature"
        if not (expires.isascii() and expires.isdigit() and len(expires) <= 12):
            return MALFORMED_EXPIRY
        expires_at = int(expires)
        if not (signature.isascii() and len(signature) <= 128):  # compare_digest raises on non-ASCII str
            return MALFORMED_SIGNATURE
        if not hmac.compare_digest(self._signature(item_uuid, expires_at), signature):
            return "signature does not match"
        if expires_at < time.time():
            return "signed URL expired"
        return None
