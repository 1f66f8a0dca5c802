"""Projects sharing a dataset (`data_from`) and keys restricted to some projects, through the unmodified SDK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from encord.client import EncordClientProject
from encord.constants.string_constants import TYPE_PROJECT
from encord.exceptions import AuthorisationError
from encord.http.querier import Querier
from encord.objects import Classification
from encord.project import Project
from encord.user_client import EncordUserClient
from encord.workflow.stages.agent import AgentStage

from encord_emulator.auth import generate_private_key, public_hex_of
from encord_emulator.testing import RunningEmulator, run_emulator

SOURCE = "5ea7ed00-0000-4000-8000-000000000001"
TWIN = "5ea7ed00-0000-4000-8000-000000000002"
TOKEN_ONLY_TWIN = "twin-only-token"


def _project(project_hash: str, title: str, **extra: Any) -> dict[str, Any]:
    return {
        "project_hash": project_hash,
        "title": title,
        "ontology": {"classifications": [{"name": "ok", "type": "radio", "options": ["yes", "no"]}]},
        "stages": [
            {"title": "agent", "type": "agent", "pathways": {"done": "Complete"}},
            {"title": "Complete", "type": "done"},
        ],
        **extra,
    }


def _seed(*, source_key: str | None = None) -> dict[str, Any]:
    source = _project(
        SOURCE,
        "source",
        dataset_title="shared-dataset",
        data=[
            {"type": "image", "title": "img-{i}.png", "count": 2, "generate": {"width": 32, "height": 24, "seed": 5}},
            {"type": "image_group", "title": "group", "image_count": 2, "generate": {"width": 32, "height": 24}},
        ],
    )
    auth: dict[str, Any] = {"bearer_tokens": [{"token": TOKEN_ONLY_TWIN, "projects": [TWIN]}]}
    if source_key is not None:
        auth["public_keys"] = [{"key": source_key, "projects": [SOURCE]}]
    return {"auth": auth, "projects": [source, _project(TWIN, "twin", data_from=SOURCE)]}


@pytest.fixture
def emu() -> Iterator[RunningEmulator]:
    with run_emulator(_seed(), extra_keys={"source-only": [SOURCE]}) as running:
        yield running


def _project_signed_by(client: EncordUserClient, other: Project) -> Project:
    """`other` (fetched with another key) whose requests `client` signs: a caller that knows the project hash
    but lacks the permission, which `get_project` alone cannot produce since it fails first."""
    config = client.user_config.config
    querier = Querier(config, resource_type=TYPE_PROJECT, resource_id=other.project_hash)
    # Private SDK attributes: the SDK offers no public way to sign an existing project with another key.
    api_client = client._api_client
    project_client = EncordClientProject(querier=querier, config=config, api_client=api_client)
    return Project(project_client, other._project_instance, other._ontology_internal, api_client)


def test_twin_project_lists_the_same_data_with_its_own_tasks_and_labels(emu: RunningEmulator) -> None:
    client = emu.client()
    source, twin = client.get_project(SOURCE), client.get_project(TWIN)
    source_rows = {row.data_hash: row for row in source.list_label_rows_v2()}
    twin_rows = {row.data_hash: row for row in twin.list_label_rows_v2()}
    assert set(twin_rows) == set(source_rows)
    assert len(twin_rows) == 3
    for data_hash, twin_row in twin_rows.items():
        source_row = source_rows[data_hash]
        assert twin_row.data_title == source_row.data_title
        assert twin_row.dataset_hash == source_row.dataset_hash
        assert twin_row.backing_item_uuid == source_row.backing_item_uuid  # one storage item
    assert source.list_label_rows_v2()[0].dataset_title == "shared-dataset"

    # Each project has its own tasks: proceeding the twin's leaves the source's where it was.
    twin_tasks = list(twin.workflow.get_stage(name="agent", type_=AgentStage).get_tasks())
    source_tasks = list(source.workflow.get_stage(name="agent", type_=AgentStage).get_tasks())
    assert {t.data_hash for t in twin_tasks} == {t.data_hash for t in source_tasks}
    assert not {t.uuid for t in twin_tasks} & {t.uuid for t in source_tasks}
    twin_tasks[0].proceed(pathway_name="done")
    assert emu.state.task_stage(twin_tasks[0].uuid) == "Complete"
    assert emu.state.task_stage(emu.state.task_of(SOURCE, twin_tasks[0].data_hash)) == "agent"

    # ... and its own labels: a label saved in the twin is not the source's.
    data_hash = str(twin_tasks[0].data_hash)
    row = twin_rows[data_hash]
    row.initialise_labels()
    ok = twin.ontology_structure.get_child_by_title("ok", type_=Classification)
    answer = ok.create_instance()
    answer.set_answer(ok.attributes[0].options[0])
    answer.set_for_frames(0)
    row.add_classification_instance(answer)
    row.save()
    source_rows[data_hash].initialise_labels()
    assert row.label_hash != source_rows[data_hash].label_hash
    assert emu.state.label_blob(data_hash, project_hash=TWIN) is not None
    assert emu.state.label_blob(data_hash, project_hash=SOURCE) is None
    assert source_rows[data_hash].get_classification_instances() == []


def test_twin_media_is_the_source_media(emu: RunningEmulator) -> None:
    client = emu.client()
    (row,) = client.get_project(TWIN).list_label_rows_v2(data_title_eq="img-1.png")
    assert row.backing_item_uuid is not None
    item = client.get_storage_item(row.backing_item_uuid, sign_url=True)
    url = item.get_signed_url()
    assert url is not None
    body = requests.get(url, timeout=5).content
    assert body[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(body) == item.file_size


def test_restricted_key_is_refused_other_projects_and_served_its_own(emu: RunningEmulator) -> None:
    limited = emu.client_for("source-only")
    twin_as_owner = emu.client().get_project(TWIN)

    own = limited.get_project(SOURCE)
    assert len(own.list_label_rows_v2()) == 3
    assert len(list(own.workflow.get_stage(name="agent", type_=AgentStage).get_tasks())) == 3

    with pytest.raises(AuthorisationError, match=f"not authorised to access project {TWIN}"):
        limited.get_project(TWIN)  # v2: HTTP 403 {"message"}
    with pytest.raises(AuthorisationError):
        _project_signed_by(limited, twin_as_owner).list_label_rows_v2()  # legacy: 200 + AUTHORISATION_ERROR
    assert emu.request_counters()["GET /v2/public/projects/{project}"] == 3
    # The full key is unaffected.
    assert len(emu.client().get_project(TWIN).list_label_rows_v2()) == 3


def test_restricted_token_and_seed_key_and_runtime_key() -> None:
    seed_key = generate_private_key()
    with run_emulator(_seed(source_key=public_hex_of(seed_key))) as emu:
        with pytest.raises(AuthorisationError):
            EncordUserClient.create_with_bearer_token(TOKEN_ONLY_TWIN, domain=emu.url).get_project(SOURCE)
        assert EncordUserClient.create_with_bearer_token(TOKEN_ONLY_TWIN, domain=emu.url).get_project(TWIN)
        from_seed = EncordUserClient.create_with_ssh_private_key(seed_key, domain=emu.url)
        assert from_seed.get_project(SOURCE).title == "source"
        with pytest.raises(AuthorisationError):
            from_seed.get_project(TWIN)
        emu.add_key("late", projects=[TWIN])
        assert emu.client_for("late").get_project(TWIN).title == "twin"
        with pytest.raises(AuthorisationError):
            emu.client_for("late").get_project(SOURCE)
        with pytest.raises(ValueError, match="unknown projects"):
            emu.add_key("bad", projects=["5ea7ed00-0000-4000-8000-00000000dead"])


def test_refusals_have_encords_wire_shapes(emu: RunningEmulator) -> None:
    headers = {"Authorization": f"Bearer {TOKEN_ONLY_TWIN}", "Content-Type": "application/json"}
    unknown = "5ea7ed00-0000-4000-8000-00000000dead"
    for project in (SOURCE, unknown):  # an unknown project is refused too: no hint whether it exists
        v2 = requests.get(f"{emu.url}/v2/public/projects/{project}", headers=headers, timeout=5)
        assert (v2.status_code, v2.json()) == (403, {"message": f"You are not authorised to access project {project}"})
    body = {"query_type": "labelrowmetadata", "query_method": "GET", "values": {"uid": None, "payload": {}}}
    legacy = requests.post(f"{emu.url}/public", json=body, headers={**headers, "ResourceID": SOURCE}, timeout=5)
    assert legacy.status_code == 200
    envelope = legacy.json()
    assert (envelope["status"], envelope["response"]) == (403, ["AUTHORISATION_ERROR"])
    allowed = requests.post(f"{emu.url}/public", json=body, headers={**headers, "ResourceID": TWIN}, timeout=5)
    assert allowed.json()["status"] == 200
    assert len(allowed.json()["response"]) == 3
