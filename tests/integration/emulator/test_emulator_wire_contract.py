"""Pins the wire format of the SDK version we support: a new `encord` that changes it fails here, loudly.

The shapes below were verified against SDK 0.1.211 (see docs/encord-wire-protocol.md in the shared docs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import encord
import orjson
import pytest
from encord.workflow.stages.agent import AgentStage

from encord_emulator.api import ApiRequest, ApiResponse
from encord_emulator.testing import RunningEmulator

PINNED_SDK = "0.1.211"

LABEL_ROW_METADATA_PAYLOAD_KEYS = {
    "edited_before", "edited_after", "label_statuses", "shadow_data_state", "include_uninitialised_labels",
    "data_hashes", "label_hashes", "data_title_eq", "data_title_like", "workflow_graph_node_title_eq",
    "workflow_graph_node_title_like", "include_client_metadata", "include_images_data", "include_children",
    "include_workflow_graph_node", "include_all_label_branches", "branch_name", "client_metadata_as_signed_url",
}  # fmt: skip

LEGACY_AUTH = re.compile(r"^[0-9a-f]{64}:[0-9a-f]{128}$")
V2_SIGNATURE_INPUT = re.compile(
    r'^encord-sig=\("@method" "@request-target" "content-digest"\);created=\d+;keyid="[0-9a-f]{64}";alg="ed25519"$'
)


@dataclass
class Seen:
    request: ApiRequest
    response: ApiResponse

    @property
    def body(self) -> Any:
        return orjson.loads(self.request.body) if self.request.body else None


@pytest.fixture
def captured(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> list[Seen]:
    """Every API request the emulator answers, observed at its dispatcher (the server itself is unchanged)."""
    seen: list[Seen] = []
    handle = emulator.app.api.handle

    def observe(request: ApiRequest) -> ApiResponse:
        response = handle(request)
        seen.append(Seen(request, response))
        return response

    monkeypatch.setattr(emulator.app.api, "handle", observe)
    return seen


def _one(seen: list[Seen], route: str) -> Seen:
    matches = [entry for entry in seen if entry.response.route == route]
    assert len(matches) == 1, f"{route}: {[entry.response.route for entry in seen]}"
    return matches[0]


def test_sdk_version_is_the_pinned_one() -> None:
    assert encord.__version__ == PINNED_SDK, "re-verify the wire shapes in this file before bumping the SDK pin"


def test_flow_requests_have_the_verified_shapes(emulator: RunningEmulator, captured: list[Seen]) -> None:
    client = emulator.client()
    project = client.get_project(emulator.project_hash)
    stage = project.workflow.get_stage(name="pre-label", type_=AgentStage)
    task = next(iter(stage.get_tasks(data_hash=[next(iter(stage.get_tasks())).data_hash])))
    (row,) = project.list_label_rows_v2(data_hashes=[task.data_hash])
    row.initialise_labels()
    row.save()
    row.initialise_labels(overwrite=True, include_signed_url=True)
    row.set_priority(0.9)
    assert row.backing_item_uuid is not None
    (item,) = client.get_storage_items([row.backing_item_uuid], sign_url=True)
    task.proceed(pathway_name="annotate")

    routes = [entry.response.route for entry in captured]
    assert routes == [
        "GET /v2/public/projects/{project}",
        "GET /v2/public/ontologies/{ontology}",
        "GET /v2/public/projects/{project}/workflow/stages/{stage}/tasks",
        "GET /v2/public/projects/{project}/workflow/stages/{stage}/tasks",
        "POST /public labelrowmetadata.GET",
        "POST /public labelrow.PUT",
        "POST /public labelrow.POST",
        "POST /public labelrow.GET",
        "POST /v2/public/projects/{project}/priorities",
        "POST /v2/public/storage/items/get-bulk",
        "POST /v2/public/projects/{project}/workflow/stages/{stage}/actions",
    ]
    assert all(entry.response.status == 200 for entry in captured)

    filtered = captured[3].request
    assert filtered.query == {"dataHashes": [str(task.data_hash)]}

    metadata = _one(captured, "POST /public labelrowmetadata.GET")
    assert metadata.request.headers["ResourceType"] == "project"
    assert metadata.request.headers["ResourceID"] == emulator.project_hash
    assert LEGACY_AUTH.match(metadata.request.headers["Authorization"])
    assert metadata.body["values"]["uid"] is None
    payload = metadata.body["values"]["payload"]
    assert set(payload) == LABEL_ROW_METADATA_PAYLOAD_KEYS
    assert payload["data_hashes"] == [str(task.data_hash)]
    assert payload["include_uninitialised_labels"] is True
    assert payload["include_workflow_graph_node"] is True

    create = _one(captured, "POST /public labelrow.PUT").body["values"]
    assert create == {
        "uid": [str(task.data_hash)],
        "payload": {"multi_request": True, "get_signed_url": False, "branch_name": "main"},
    }
    save = _one(captured, "POST /public labelrow.POST").body["values"]
    assert save["uid"] == [row.label_hash]
    assert set(save["payload"]) == {"multi_request", "labels", "validate_before_saving"}
    assert save["payload"]["labels"][0]["data_hash"] == str(task.data_hash)
    fetch = _one(captured, "POST /public labelrow.GET").body["values"]
    assert fetch["uid"] == [row.label_hash]
    assert fetch["payload"]["get_signed_url"] is True

    priority = _one(captured, "POST /v2/public/projects/{project}/priorities")
    assert priority.body == {"priorities": [[str(task.data_hash), 0.9]]}
    assert V2_SIGNATURE_INPUT.match(priority.request.headers["Signature-Input"])
    assert priority.request.headers["Content-Digest"].startswith("sha-256=:")
    bulk = _one(captured, "POST /v2/public/storage/items/get-bulk")
    assert bulk.body == {"itemUuids": [str(row.backing_item_uuid)], "signUrls": True}
    assert item.get_signed_url() is not None
    actions = _one(captured, "POST /v2/public/projects/{project}/workflow/stages/{stage}/actions")
    assert actions.body == [{"taskUuid": str(task.uuid), "action": "PATHWAY_ACTION", "pathwayName": "annotate"}]


def test_single_item_and_child_items_use_the_verified_queries(emulator: RunningEmulator, captured: list[Seen]) -> None:
    client = emulator.client()
    project = client.get_project(emulator.project_hash)
    (group,) = project.list_label_rows_v2(data_title_eq="group-0")
    assert group.backing_item_uuid is not None
    item = client.get_storage_item(group.backing_item_uuid, sign_url=False)
    item.get_child_items(get_signed_urls=True)
    item.update(client_metadata={"k": 1})
    single = _one(captured, "GET /v2/public/storage/items/{item}")
    assert single.request.query == {"signUrl": ["False"]}
    children = _one(captured, "GET /v2/public/storage/folders/{folder}/items/{item}/child-items")
    assert children.request.query == {"signUrls": ["True"]}
    patch = _one(captured, "PATCH /v2/public/storage/folders/{folder}/items/{item}")
    assert patch.body == {"clientMetadata": {"k": 1}}
