"""Keys and request authentication: the SDK's two Ed25519 signature schemes and bearer tokens.

Hand-written on top of `cryptography` (which the SDK already uses): the schemes are small, and no maintained
library verifies Encord's exact variant of the RFC 9421 draft.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_ssh_private_key,
    load_ssh_public_key,
)

from encord_emulator.errors import AuthenticationFailed, NotAuthorised, SeedError

_SIGNATURE_INPUT = re.compile(r'^encord-sig=\((?P<covered>[^)]*)\)(?P<params>(;[a-z]+=("[^"]*"|\d+))*)$')
_PARAM = re.compile(r';([a-z]+)=("([^"]*)"|(\d+))')
_SFV_BYTES = re.compile(r"^(?P<label>[a-z0-9-]+)=:(?P<b64>[A-Za-z0-9+/=]*):$")
# What a v2 signature must cover (the SDK covers exactly these), and how far its `created` may be from now.
_REQUIRED_COMPONENTS = frozenset({'"@method"', '"@request-target"', '"content-digest"'})
SIGNATURE_MAX_AGE_S = 300


def generate_private_key() -> str:
    """A new OpenSSH-format Ed25519 private key (the only format the SDK loads)."""
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()).decode("ascii")


def public_hex_of(private_key_text: str) -> str:
    key = load_ssh_private_key(private_key_text.encode("ascii"), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SeedError("the emulator only accepts Ed25519 keys (as does the SDK)")
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def normalise_public_key(text: str) -> str:
    """Raw 64-hex public key from either that form or an OpenSSH public key line."""
    stripped = text.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64}", stripped):
        return stripped.lower()
    try:
        key = load_ssh_public_key(stripped.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise SeedError(f"not an Ed25519 public key: {stripped[:30]}...") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SeedError("the emulator only accepts Ed25519 public keys")
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def _key_principal(public_hex: str) -> str:
    return f"key:{public_hex.lower()}"


def _token_principal(token: str) -> str:
    return f"token:{token}"


@dataclass
class Authenticator:
    """Who may call (keys, tokens) and, for restricted callers, on which projects.

    The check methods return the caller's principal (`key:<hex>` / `token:<token>`), or None when signature
    checking is off; `check_project` then enforces per-project restrictions. Mutations (`authorise_key`) are
    single dict/set assignments, atomic under the GIL, so keys can be added while requests are served.
    """

    public_keys: set[str] = field(default_factory=set)
    bearer_tokens: set[str] = field(default_factory=set)
    verify: bool = True
    # principal -> the only projects it may touch; principals absent here may touch every project.
    restrictions: dict[str, frozenset[UUID]] = field(default_factory=dict)
    _loaded: dict[str, Ed25519PublicKey] = field(default_factory=dict, repr=False)

    @classmethod
    def create(
        cls,
        *,
        public_keys: Iterable[str],
        bearer_tokens: Iterable[str],
        verify: bool,
        restricted_keys: Iterable[tuple[str, Iterable[UUID]]] = (),
        restricted_tokens: Iterable[tuple[str, Iterable[UUID]]] = (),
    ) -> Authenticator:
        auth = cls({normalise_public_key(key) for key in public_keys}, set(bearer_tokens), verify)
        for key, projects in restricted_keys:
            auth.authorise_key(key, projects=projects)
        for token, projects in restricted_tokens:
            auth.authorise_token(token, projects=projects)
        return auth

    def authorise_key(self, public_key: str, *, projects: Iterable[UUID] | None = None) -> None:
        """Accept `public_key` (64 hex or an OpenSSH line), on every project or only on `projects`."""
        public_hex = normalise_public_key(public_key)
        if projects is not None:
            self.restrictions[_key_principal(public_hex)] = frozenset(projects)
        self.public_keys.add(public_hex)

    def authorise_token(self, token: str, *, projects: Iterable[UUID] | None = None) -> None:
        if projects is not None:
            self.restrictions[_token_principal(token)] = frozenset(projects)
        self.bearer_tokens.add(token)

    def check_project(self, principal: str | None, project_hash: UUID) -> None:
        """Raise `NotAuthorised` when a restricted caller reaches for a project outside its list."""
        if principal is None:
            return
        allowed = self.restrictions.get(principal)
        if allowed is not None and project_hash not in allowed:
            raise NotAuthorised(f"You are not authorised to access project {project_hash}")

    def allowed_projects(self, principal: str | None) -> frozenset[UUID] | None:
        """The projects a caller is restricted to, or None when it may use all of them."""
        return None if principal is None else self.restrictions.get(principal)

    def _key(self, public_hex: str) -> Ed25519PublicKey:
        if public_hex.lower() not in self.public_keys:
            raise AuthenticationFailed("unknown public key")
        key = self._loaded.get(public_hex)
        if key is None:
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex))
            self._loaded[public_hex] = key
        return key

    def _bearer(self, header: str) -> str | None:
        """The bearer principal, None when the header is no bearer token at all."""
        if not header.startswith("Bearer "):
            return None
        token = header.removeprefix("Bearer ").strip()
        if token not in self.bearer_tokens:
            raise AuthenticationFailed("unknown bearer token")
        return _token_principal(token)

    def check_legacy(self, headers: Mapping[str, str], body: bytes) -> str | None:
        """`Authorization: <pubkey hex>:<hex(sign(sha256(body)))>` or a bearer token; returns the principal."""
        if not self.verify:
            return None
        header = headers.get("Authorization") or ""
        bearer = self._bearer(header)
        if bearer is not None:
            return bearer
        public_hex, _, signature_hex = header.partition(":")
        if not public_hex or not signature_hex:
            raise AuthenticationFailed("missing or malformed Authorization header")
        try:
            signature = bytes.fromhex(signature_hex)
        except ValueError:
            raise AuthenticationFailed("malformed signature") from None
        try:
            self._key(public_hex).verify(signature, hashlib.sha256(body).digest())
        except (InvalidSignature, ValueError):
            raise AuthenticationFailed("signature does not verify") from None
        return _key_principal(public_hex)

    def check_v2(self, *, method: str, target: str, headers: Mapping[str, str], body: bytes) -> str | None:
        """The SDK's RFC 9421-style signature over method, request target and content digest; the principal."""
        if not self.verify:
            return None
        bearer = self._bearer(headers.get("Authorization") or "")
        if bearer is not None:
            return bearer
        signature_input = headers.get("Signature-Input")
        signature_header = headers.get("Signature")
        digest_header = headers.get("Content-Digest")
        if not signature_input or not signature_header or not digest_header:
            raise AuthenticationFailed("missing Signature, Signature-Input or Content-Digest header")
        expected_digest = f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode('ascii')}:"
        if digest_header != expected_digest:
            raise AuthenticationFailed("Content-Digest does not match the body")
        parsed = _SIGNATURE_INPUT.match(signature_input)
        signature_match = _SFV_BYTES.match(signature_header)
        if parsed is None or signature_match is None or signature_match["label"] != "encord-sig":
            raise AuthenticationFailed("malformed Signature-Input or Signature")
        params = {
            m.group(1): m.group(3) if m.group(3) is not None else m.group(4) for m in _PARAM.finditer(parsed["params"])
        }
        if params.get("alg") != "ed25519" or not params.get("keyid"):
            raise AuthenticationFailed("unsupported signature algorithm or missing keyid")
        covered = parsed["covered"].split()
        missing = sorted(_REQUIRED_COMPONENTS - set(covered))
        if missing:
            raise AuthenticationFailed(f"the signature does not cover {', '.join(missing)}")
        created = params.get("created") or ""
        if not (created.isascii() and created.isdigit() and len(created) <= 12):
            raise AuthenticationFailed("the signature has no 'created' time")
        if abs(time.time() - int(created)) > SIGNATURE_MAX_AGE_S:
            raise AuthenticationFailed(f"the signature was created more than {SIGNATURE_MAX_AGE_S} s from now")
        values = {'"@method"': method.upper(), '"@request-target"': target, '"content-digest"': digest_header}
        try:
            lines = [f"{name}: {values[name]}" for name in covered]
        except KeyError as exc:
            raise AuthenticationFailed(f"unsupported covered component {exc}") from None
        sig_params = signature_input.removeprefix("encord-sig=")
        base = "\n".join([*lines, f'"@signature-params": {sig_params}'])
        try:
            signature = base64.b64decode(signature_match["b64"], validate=True)
            self._key(params["keyid"]).verify(signature, base.encode())
        except (InvalidSignature, ValueError):
            raise AuthenticationFailed("signature does not verify") from None
        return _key_principal(params["keyid"])
