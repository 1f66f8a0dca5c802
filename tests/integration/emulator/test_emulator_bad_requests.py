"""Bad requests get the exception the SDK raises against Encord, and leave the state untouched."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
import requests
from cryptography.hazmat.primitives.serialization import load_ssh_private_key
from encord.configs import SshConfig
from encord.exceptions import (
    AuthenticationError,
    InvalidArgumentsError,
    ResourceNotFoundError,
    UnknownException,
)
from encord.http.error_utils import check_error_response
from encord.http.v2.error_utils import handle_error_response
from encord.http.v2.request_signer import sign_request
from encord.user_client import EncordUserClient
from encord.workflow.stages.agent import AgentStage

from encord_emulator.auth import generate_private_key
from encord_emulator.pytest_plugin import EmulatorFactory
from encord_emulator.testing import RunningEmulator


@pytest.fixture
def unchanged(emulator: RunningEmulator) -> Iterator[RunningEmulator]:
    """Asserts after the test that nothing in the state moved."""
    before = emulator.state.dump()
    yield emulator
    assert emulator.state.dump() == before


def _config(key_text: str, url: str) -> SshConfig:
    """The SDK's own signing config for a private key, so requests carry exactly the SDK's signatures."""
    key = load_ssh_private_key(key_text.encode(), password=None)
    return SshConfig(key, domain=url)  # type: ignore[arg-type]


def _signed_v2(emulator: RunningEmulator, method: str, path: str, body: bytes) -> requests.Response:
    config = _config(emulator.ssh_key, emulator.url)
    prepared = requests.Request(method, emulator.url + path, data=body).prepare()
    sign_request(prepared, config.public_key_hex, config.private_key)
    with requests.Session() as session:
        return session.send(prepared, timeout=5)


def _signed_legacy(emulator: RunningEmulator, body: str, project: str) -> dict[str, Any]:
    config = _config(emulator.ssh_key, emulator.url)
    headers = config.define_headers(project, "project", body)
    response = requests.post(emulator.url + "/public", data=body, headers=headers, timeout=5)
    assert response.status_code == 200  # legacy errors travel inside the envelope
    result: dict[str, Any] = response.json()
    return result


def _raise_v2(response: requests.Response) -> None:
    handle_error_response(response.status_code, response.headers, response.json().get("message"))


def test_malformed_json_v2_is_invalid_arguments(unchanged: RunningEmulator) -> None:
    emulator = unchanged
    project = emulator.client().get_project(emulator.project_hash)
    stage = project.workflow.get_stage(name="pre-label", type_=AgentStage)
    path = f"/v2/public/projects/{emulator.project_hash}/workflow/stages/{stage.uuid}/actions"
    response = _signed_v2(emulator, "POST", path, b'[{"taskUuid": ')
    assert response.status_code == 400
    with pytest.raises(InvalidArgumentsError, match="malformed JSON"):
        _raise_v2(response)


def test_malformed_json_legacy_is_invalid_arguments(unchanged: RunningEmulator) -> None:
    envelope = _signed_legacy(unchanged, '{"query_type": "labelrow", ', unchanged.project_hash)
    assert envelope["status"] == 400
    with pytest.raises(InvalidArgumentsError, match="malformed JSON"):
        check_error_response(envelope["response"], payload=envelope.get("payload"))


def test_unknown_project_is_resource_not_found(unchanged: RunningEmulator) -> None:
    client = unchanged.client(max_retries=0)
    with pytest.raises(ResourceNotFoundError):
        client.get_project(str(uuid4()))


def test_unknown_project_legacy_is_resource_not_found(unchanged: RunningEmulator) -> None:
    body = '{"query_type": "labelrowmetadata", "query_method": "GET", "values": {"uid": null, "payload": {}}}'
    envelope = _signed_legacy(unchanged, body, str(uuid4()))
    with pytest.raises(ResourceNotFoundError):
        check_error_response(envelope["response"], payload=envelope.get("payload"))


def test_unknown_task_is_invalid_arguments(unchanged: RunningEmulator) -> None:
    emulator = unchanged
    project = emulator.client().get_project(emulator.project_hash)
    stage = project.workflow.get_stage(name="pre-label", type_=AgentStage)
    task = next(iter(stage.get_tasks()))
    task.uuid = uuid4()
    with pytest.raises(InvalidArgumentsError, match="does not exist"):
        task.proceed(pathway_name="annotate")


def test_wrong_pathway_rejects_the_whole_bundle(unchanged: RunningEmulator) -> None:
    emulator = unchanged
    project = emulator.client().get_project(emulator.project_hash)
    stage = project.workflow.get_stage(name="pre-label", type_=AgentStage)
    first, second = list(stage.get_tasks())[:2]
    bundle = project.create_bundle()
    first.proceed(pathway_name="annotate", bundle=bundle)
    second.proceed(pathway_name="no-such-pathway", bundle=bundle)
    with pytest.raises(InvalidArgumentsError, match="no-such-pathway"):
        bundle.execute()  # one request carrying both actions
    assert emulator.state.task_stage(first.uuid) == "pre-label"


def test_task_that_left_the_stage_is_invalid_arguments(emulator: RunningEmulator) -> None:
    project = emulator.client().get_project(emulator.project_hash)
    stage = project.workflow.get_stage(name="pre-label", type_=AgentStage)
    task = next(iter(stage.get_tasks()))
    task.proceed(pathway_name="skip")
    before = emulator.state.dump()
    with pytest.raises(InvalidArgumentsError, match="not in stage"):
        task.proceed(pathway_name="annotate")
    assert emulator.state.dump() == before
    assert emulator.state.task_stage(task.uuid) == "Complete"


def test_wrong_key_fails_both_generations(unchanged: RunningEmulator) -> None:
    stranger_key = generate_private_key()
    stranger = EncordUserClient.create_with_ssh_private_key(ssh_private_key=stranger_key, domain=unchanged.url)
    with pytest.raises(AuthenticationError):
        stranger.get_project(unchanged.project_hash)  # v2: HTTP 401 {"message"}
    config = _config(stranger_key, unchanged.url)
    body = '{"query_type": "labelrowmetadata", "query_method": "GET", "values": {"uid": null, "payload": {}}}'
    headers = config.define_headers(unchanged.project_hash, "project", body)
    response = requests.post(unchanged.url + "/public", data=body, headers=headers, timeout=5)
    assert response.status_code == 200
    envelope = response.json()
    assert envelope["status"] == 401
    assert envelope["response"] == ["AUTHENTICATION_ERROR"]
    with pytest.raises(AuthenticationError):
        check_error_response(envelope["response"], payload=envelope.get("payload"))


def test_tampered_signature_and_body_are_rejected(unchanged: RunningEmulator) -> None:
    emulator = unchanged
    path = f"/v2/public/projects/{emulator.project_hash}"
    config = _config(emulator.ssh_key, emulator.url)
    prepared = requests.Request("GET", emulator.url + path).prepare()
    sign_request(prepared, config.public_key_hex, config.private_key)
    prepared.url = emulator.url + path + "?extra=1"  # the signed request target no longer matches
    with requests.Session() as session:
        response = session.send(prepared, timeout=5)
    assert response.status_code == 401
    with pytest.raises(AuthenticationError):
        _raise_v2(response)
    body = '{"query_type": "labelrowmetadata", "query_method": "GET", "values": {"uid": null, "payload": {}}}'
    headers = config.define_headers(emulator.project_hash, "project", body)
    response = requests.post(emulator.url + "/public", data=body.replace("GET", "PUT"), headers=headers, timeout=5)
    assert response.json()["response"] == ["AUTHENTICATION_ERROR"]


def test_range_beyond_the_file_is_416(unchanged: RunningEmulator) -> None:
    client = unchanged.client()
    project = client.get_project(unchanged.project_hash)
    row = project.list_label_rows_v2(data_title_like="clip-%")[0]
    assert row.backing_item_uuid is not None
    item = client.get_storage_item(row.backing_item_uuid, sign_url=True)
    url = item.get_signed_url()
    assert url is not None
    assert item.file_size is not None
    response = requests.get(url, headers={"Range": f"bytes={item.file_size}-"}, timeout=5)
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{item.file_size}"


def test_unsigned_or_expired_media_urls_are_refused(emulator_factory: EmulatorFactory) -> None:
    emulator = emulator_factory(signed_url_ttl_s=-1)
    client = emulator.client()
    row = client.get_project(emulator.project_hash).list_label_rows_v2(data_title_eq="bright-00.png")[0]
    assert row.backing_item_uuid is not None
    url = client.get_storage_item(row.backing_item_uuid, sign_url=True).get_signed_url()
    assert url is not None
    expired = requests.get(url, timeout=5)
    assert expired.status_code == 403
    assert "expired" in expired.text
    tampered = requests.get(url.replace("sig=", "sig=0"), timeout=5)
    assert tampered.status_code == 403


def test_unsupported_route_is_501_naming_it(unchanged: RunningEmulator) -> None:
    response = _signed_v2(unchanged, "GET", "/v2/public/projects/x/analytics", b"")
    assert response.status_code == 501
    assert "GET /v2/public/projects/x/analytics" in response.json()["message"]
    with pytest.raises(UnknownException):
        _raise_v2(response)
    body = '{"query_type": "labelworkflowgraphnode", "query_method": "POST", "values": {"uid": [], "payload": {}}}'
    config = _config(unchanged.ssh_key, unchanged.url)
    headers = config.define_headers(unchanged.project_hash, "project", body)
    legacy = requests.post(unchanged.url + "/public", data=body, headers=headers, timeout=5)
    assert legacy.status_code == 501
    assert "labelworkflowgraphnode.POST" in legacy.json()["message"]


def test_bad_priority_or_label_save_changes_nothing(unchanged: RunningEmulator) -> None:
    emulator = unchanged
    project = emulator.client().get_project(emulator.project_hash)
    rows = project.list_label_rows_v2()[:2]
    bundle = project.create_bundle()
    rows[0].set_priority(0.1, bundle=bundle)
    rows[1].set_priority(1.5, bundle=bundle)
    with pytest.raises(InvalidArgumentsError, match="outside"):
        bundle.execute()
    # A save naming a label row that does not exist.
    values = {"uid": [str(uuid4())], "payload": {"multi_request": True, "labels": [{}]}}
    body = json.dumps({"query_type": "labelrow", "query_method": "POST", "values": values})
    envelope = _signed_legacy(emulator, body, emulator.project_hash)
    with pytest.raises(ResourceNotFoundError):
        check_error_response(envelope["response"], payload=envelope.get("payload"))


@pytest.mark.parametrize(
    "headers",
    [{"Host": "attacker.example"}, {"Origin": "https://attacker.example"}, {"Host": "10.0.0.5:8080"}],
    ids=["foreign_host", "cross_origin", "lan_host"],
)
def test_control_routes_refuse_foreign_hosts_and_origins(unchanged: RunningEmulator, headers: dict[str, str]) -> None:
    refused = requests.post(f"{unchanged.url}/_emulator/reset", headers=headers, timeout=10)
    assert refused.status_code == 403
    assert "control routes" in refused.json()["message"]
    local = {"Origin": f"{unchanged.url}"}
    assert requests.get(f"{unchanged.url}/_emulator/health", headers=local, timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("expires", "sig", "reason"),
    [
        (None, "%C3%A9%C3%A9", "malformed signature"),  # non-ASCII: compare_digest used to raise, dropping the socket
        ("9" * 400, None, "malformed expiry"),
        ("%D9%A1%D9%A2", None, "malformed expiry"),
    ],
    ids=["non_ascii_sig", "huge_expiry", "non_ascii_expiry"],
)
def test_malformed_signed_url_values_are_400(
    unchanged: RunningEmulator, expires: str | None, sig: str | None, reason: str
) -> None:
    client = unchanged.client()
    row = client.get_project(unchanged.project_hash).list_label_rows_v2(data_title_like="clip-%")[0]
    assert row.backing_item_uuid is not None
    url = client.get_storage_item(row.backing_item_uuid, sign_url=True).get_signed_url()
    assert url is not None
    base, _, query = url.partition("?")
    params = dict(pair.split("=", 1) for pair in query.split("&"))
    params.update({k: v for k, v in (("expires", expires), ("sig", sig)) if v is not None})
    response = requests.get(f"{base}?{'&'.join(f'{k}={v}' for k, v in params.items())}", timeout=10)
    assert response.status_code == 400
    assert reason in response.text
