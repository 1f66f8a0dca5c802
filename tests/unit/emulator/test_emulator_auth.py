"""Signature checks, driven by the SDK's own signers so the two sides cannot drift apart silently."""

from __future__ import annotations

import pytest
import requests
from cryptography.hazmat.primitives.serialization import load_ssh_private_key
from encord.configs import SshConfig
from encord.http.v2.request_signer import sign_request

from encord_emulator.auth import Authenticator, generate_private_key, normalise_public_key, public_hex_of
from encord_emulator.errors import AuthenticationFailed, SeedError


def _config(key_text: str) -> SshConfig:
    key = load_ssh_private_key(key_text.encode(), password=None)
    return SshConfig(key, domain="http://127.0.0.1:1")  # type: ignore[arg-type]


@pytest.fixture
def key() -> str:
    return generate_private_key()


def test_legacy_signature_verifies_only_for_the_signed_body(key: str) -> None:
    auth = Authenticator.create(public_keys=[public_hex_of(key)], bearer_tokens=[], verify=True)
    body = '{"query_type": "labelrow"}'
    headers = _config(key).define_headers("p", "project", body)
    auth.check_legacy(headers, body.encode())
    with pytest.raises(AuthenticationFailed, match="does not verify"):
        auth.check_legacy(headers, body.encode() + b" ")


def test_v2_signature_covers_method_target_and_digest(key: str) -> None:
    auth = Authenticator.create(public_keys=[public_hex_of(key)], bearer_tokens=[], verify=True)
    config = _config(key)
    prepared = requests.Request("POST", "http://127.0.0.1:1/v2/public/x?a=1", data=b"[1]").prepare()
    sign_request(prepared, config.public_key_hex, config.private_key)
    headers = dict(prepared.headers)
    auth.check_v2(method="POST", target="/v2/public/x?a=1", headers=headers, body=b"[1]")
    with pytest.raises(AuthenticationFailed, match="does not verify"):
        auth.check_v2(method="PUT", target="/v2/public/x?a=1", headers=headers, body=b"[1]")
    with pytest.raises(AuthenticationFailed, match="does not verify"):
        auth.check_v2(method="POST", target="/v2/public/x?a=2", headers=headers, body=b"[1]")
    with pytest.raises(AuthenticationFailed, match="Content-Digest"):
        auth.check_v2(method="POST", target="/v2/public/x?a=1", headers=headers, body=b"[2]")


def test_unknown_key_bearer_tokens_and_disabled_verification(key: str) -> None:
    other = generate_private_key()
    auth = Authenticator.create(public_keys=[public_hex_of(other)], bearer_tokens=["tok"], verify=True)
    body = "{}"
    with pytest.raises(AuthenticationFailed, match="unknown public key"):
        auth.check_legacy(_config(key).define_headers("p", "project", body), body.encode())
    auth.check_legacy({"Authorization": "Bearer tok"}, b"{}")
    auth.check_v2(method="GET", target="/", headers={"Authorization": "Bearer tok"}, body=b"")
    with pytest.raises(AuthenticationFailed, match="bearer"):
        auth.check_v2(method="GET", target="/", headers={"Authorization": "Bearer nope"}, body=b"")
    with pytest.raises(AuthenticationFailed, match="missing"):
        auth.check_v2(method="GET", target="/", headers={}, body=b"")
    Authenticator.create(public_keys=[], bearer_tokens=[], verify=False).check_legacy({}, b"")


def test_public_keys_accept_hex_and_openssh_lines(key: str) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    private = load_ssh_private_key(key.encode(), password=None)
    line = private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    assert normalise_public_key(line) == public_hex_of(key)
    assert normalise_public_key(public_hex_of(key).upper()) == public_hex_of(key)
    with pytest.raises(SeedError):
        normalise_public_key("ssh-rsa AAAA")


def _v2_headers(key: str, *, covered: list[str], created: str, method: str, target: str, body: bytes) -> dict[str, str]:
    """A v2 signature made by hand, to cover what the SDK never would (too little, or a stale `created`)."""
    import base64
    import hashlib

    private = load_ssh_private_key(key.encode(), password=None)
    digest = f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"
    values = {'"@method"': method, '"@request-target"': target, '"content-digest"': digest}
    params = f'({" ".join(covered)});created={created};keyid="{public_hex_of(key)}";alg="ed25519"'
    base = "\n".join([*(f"{name}: {values[name]}" for name in covered), f'"@signature-params": {params}'])
    signature = base64.b64encode(private.sign(base.encode())).decode()  # type: ignore[call-arg]
    return {
        "Signature-Input": f"encord-sig={params}",
        "Signature": f"encord-sig=:{signature}:",
        "Content-Digest": digest,
    }


def test_v2_signature_must_cover_method_target_and_digest_and_be_fresh(key: str) -> None:
    import time

    auth = Authenticator.create(public_keys=[public_hex_of(key)], bearer_tokens=[], verify=True)
    everything = ['"@method"', '"@request-target"', '"content-digest"']
    now = str(int(time.time()))
    request = {"method": "POST", "target": "/v2/public/x", "body": b"[1]"}
    auth.check_v2(headers=_v2_headers(key, covered=everything, created=now, **request), **request)  # type: ignore[arg-type]
    for covered in (['"content-digest"'], ['"@method"', '"content-digest"'], ['"@request-target"']):
        with pytest.raises(AuthenticationFailed, match="does not cover"):
            auth.check_v2(headers=_v2_headers(key, covered=covered, created=now, **request), **request)  # type: ignore[arg-type]
    stale = str(int(time.time()) - 301)
    with pytest.raises(AuthenticationFailed, match="created more than"):
        auth.check_v2(headers=_v2_headers(key, covered=everything, created=stale, **request), **request)  # type: ignore[arg-type]
