"""A key of a type Encord does not accept (RSA, ECDSA; OpenSSH or PEM) fails with a one-line error that names the
accepted type, and no line of the key reaches anything either function writes."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from encord_emulator.testing import RunningEmulator
from functions import aws, target
from functions.structured_logs import CloudLoggingFormatter
from runner_core.client import clear_client_cache, load_settings
from runner_core.errors import SettingsError
from runner_core.producer import build_messages
from tests.integration.functions import fn_agents
from tests.integration.functions.fn_harness import Moto, lambda_context, receive_event, title_of
from tests.unit.functions._functions_fakes import ff_client

SOURCE = str(Path(__file__).parents[3] / "functions" / "gcp.py")
EVENTS = Path(__file__).parents[2] / "events"
FORMATS = {
    "openssh": serialization.PrivateFormat.OpenSSH,
    "pem": serialization.PrivateFormat.PKCS8,
}


def _key(kind: str, fmt: str) -> str:
    private = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "rsa"
        else ec.generate_private_key(ec.SECP256R1())
    )
    return private.private_bytes(serialization.Encoding.PEM, FORMATS[fmt], serialization.NoEncryption()).decode("ascii")


def _fragments(key: str) -> list[str]:
    """Each base64 line of the key's body, and a 16-character piece of each (a partial leak counts too)."""
    lines = [line.strip() for line in key.splitlines() if line.strip() and not line.startswith("-----")]
    return [*lines, *(line[8:24] for line in lines if len(line) >= 24)]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_a_key_of_another_type_is_refused_without_leaking_it(
    kind: str,
    fmt: str,
    emu: RunningEmulator,
    moto: Moto,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    by_title = {title_of(m): m for m in build_messages(fn_agents.build_runner(emu.project_hash))}
    key = _key(kind, fmt)
    monkeypatch.setenv("ENCORD_SSH_KEY", key)
    clear_client_cache()
    # A fresh runner, so it builds its client from the key above.
    monkeypatch.setitem(target._loaded, fn_agents.TARGET, fn_agents.build_runner(emu.project_hash))

    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert "\n" not in message
    assert "Ed25519" in message
    assert ("an RSA" if kind == "rsa" else "an ECDSA") in message

    # AWS: the record is retried (nothing lost), and the logs say why.
    sqs = moto.client("sqs")
    queue_url = str(sqs.create_queue(QueueName="tasks")["QueueUrl"])
    sqs.send_message(QueueUrl=queue_url, MessageBody=by_title["bright-00.png"].body)
    response = aws.consume(receive_event(sqs, queue_url, 1), lambda_context())
    assert len(response["batchItemFailures"]) == 1

    # GCP: nacked (500), the same way.
    monkeypatch.setitem(target._loaded, fn_agents.TARGET, fn_agents.build_runner(emu.project_hash))
    raw = json.loads((EVENTS / "pubsub_push_raw.json").read_text())
    raw["message"]["data"] = base64.b64encode(by_title["bright-01.png"].body.encode()).decode()
    assert ff_client(SOURCE, "consume_http", "http").post("/", json=raw).status_code == 500

    captured = capsys.readouterr()
    powertools = aws.logger.registered_formatter
    cloud = CloudLoggingFormatter()
    rendered = "\n".join(
        [caplog.text, captured.out, captured.err]
        + [powertools.format(record) for record in caplog.records]
        + [cloud.format(record) for record in caplog.records]
    )
    assert "Encord accepts an unencrypted Ed25519 private key" in rendered  # the logs were captured, and say why
    leaked = [fragment for fragment in _fragments(key) if fragment in rendered]
    assert leaked == []


def test_an_ed25519_key_in_pem_is_accepted_as_openssh(emu: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    openssh = serialization.load_ssh_private_key(emu.ssh_key.encode(), password=None)
    assert isinstance(openssh, Ed25519PrivateKey)
    pem = openssh.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    monkeypatch.setenv("ENCORD_SSH_KEY", pem)
    converted = load_settings().ssh_key
    assert converted.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    again = serialization.load_ssh_private_key(converted.encode(), password=None)
    assert isinstance(again, Ed25519PrivateKey)
    assert again.private_bytes_raw() == openssh.private_bytes_raw()
