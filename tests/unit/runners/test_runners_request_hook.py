"""The request-count hook on the real SDK client objects (no server: only the trace-id provider is exercised)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from encord.http.constants import DEFAULT_REQUESTS_SETTINGS, RequestsSettings
from encord.user_client import EncordUserClient

from runner_core.runners.request_count import count_requests, instrument


def _key() -> str:
    """A fresh Ed25519 key per client (generated here, so no key material lives in the repository)."""
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()).decode()


def _client(settings: RequestsSettings = DEFAULT_REQUESTS_SETTINGS) -> EncordUserClient:
    return EncordUserClient.create_with_ssh_private_key(
        ssh_private_key=_key(), domain="http://127.0.0.1:9", requests_settings=settings
    )


def test_counting_never_changes_the_shared_default_settings() -> None:
    client, other = _client(), _client()
    assert instrument(client)
    assert DEFAULT_REQUESTS_SETTINGS.trace_id_provider is None
    assert other._config.config.requests_settings.trace_id_provider is None


def test_each_request_header_is_counted_and_keeps_the_trace_id_format() -> None:
    client = _client()
    config = client._config.config
    with count_requests(client) as counter:
        assert counter is not None
        ids = [config._tracing_id() for _ in range(3)]
    assert counter.count == 3
    assert all(trace.endswith("/1;o=1") and len(trace.split("/")[0]) == 32 for trace in ids)
    config._tracing_id()  # outside the batch: not counted
    assert counter.count == 3


def test_a_users_own_trace_id_provider_still_answers() -> None:
    client = _client(RequestsSettings(trace_id_provider=lambda: "mine/1;o=1"))
    with count_requests(client) as counter:
        assert client._config.config._tracing_id() == "mine/1;o=1"
    assert counter is not None
    assert counter.count == 1


def test_an_object_without_the_sdk_layout_is_not_counted() -> None:
    with count_requests(object()) as counter:  # type: ignore[arg-type]
        assert counter is None
