"""Ontologies, datasets and workflow templates as seed entities, projects created and deleted from them at run time,
every item type served as a real file, and label branches (real SDK against the emulator)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import av
import numpy as np
import pytest
import requests
from encord.constants.enums import DataType
from encord.exceptions import AuthorisationError, InvalidArgumentsError, ResourceNotFoundError
from encord.objects.ontology_object import Object
from encord.orm.storage import StorageItemType
from encord.project import Project
from encord.user_client import EncordUserClient
from encord.workflow.stages.agent import AgentStage
from encord.workflow.stages.final import FinalStage
from PIL import Image

from encord_emulator.testing import RunningEmulator, run_emulator

ONTOLOGY = "0a0a0000-0000-4000-8000-000000000001"
DATASET = "0d0d0000-0000-4000-8000-000000000001"
SMALL = "0d0d0000-0000-4000-8000-000000000002"
TEMPLATE = "07070000-0000-4000-8000-000000000001"
AGENT_STAGE = "07070000-0000-4000-8000-0000000000a1"
DONE_STAGE = "07070000-0000-4000-8000-0000000000d1"
PATHWAY = "07070000-0000-4000-8000-0000000000b1"


def _seed() -> dict[str, Any]:
    return {
        "ontologies": [
            {"ontology_hash": ONTOLOGY, "title": "shapes", "objects": [{"name": "Box", "feature_hash": "BoxHash1"}]}
        ],
        "workflow_templates": [
            {
                "template_hash": TEMPLATE,
                "stages": [
                    {
                        "title": "triage",
                        "type": "agent",
                        "uuid": AGENT_STAGE,
                        "pathways": {"done": {"to": "end", "uuid": PATHWAY}},
                    },
                    {"title": "end", "type": "done", "uuid": DONE_STAGE},
                ],
            }
        ],
        "datasets": [
            {
                "dataset_hash": DATASET,
                "title": "every type",
                "description": "one of each",
                "data": [
                    {"type": "image", "title": "a.jpg", "generate": {"width": 32, "height": 24, "format": "jpeg"}},
                    {"type": "video", "title": "v.mp4", "generate": {"width": 32, "height": 24, "frames": 6}},
                    {"type": "pdf", "title": "d.pdf", "generate": {"width": 32, "height": 24}},
                    {"type": "audio", "title": "s.mp3", "generate": {"frames": 15, "fps": 10}},
                    {"type": "text", "title": "t.txt", "generate": {"seed": 3}, "client_metadata": {"k": "v"}},
                    {
                        "type": "data_group",
                        "title": "g",
                        "members": [
                            {"type": "text", "title": "g.txt", "generate": {"seed": 4}},
                            {"type": "image", "generate": {"width": 16, "height": 16}},
                        ],
                    },
                ],
            },
            {
                "dataset_hash": SMALL,
                "title": "small",
                "data": [{"type": "image", "title": "i-{i}.png", "count": 3, "generate": {"width": 8, "height": 8}}],
            },
        ],
    }


@pytest.fixture(scope="module")
def emu() -> Iterator[RunningEmulator]:
    with run_emulator(_seed()) as running:
        yield running


def _create(client: EncordUserClient, dataset: str = DATASET, **extra: Any) -> str:
    args: dict[str, Any] = {"ontology_hash": ONTOLOGY, "workflow_template_hash": TEMPLATE, **extra}
    return client.create_project(project_title="created", dataset_hashes=[dataset], **args)


def test_ontology_is_served_before_any_project_uses_it(emu: RunningEmulator) -> None:
    ontology = emu.client().get_ontology(ONTOLOGY)
    assert ontology.title == "shapes"
    assert ontology.structure.get_child_by_hash("BoxHash1", type_=Object).name == "Box"


def test_dataset_lists_its_rows_by_type(emu: RunningEmulator) -> None:
    client = emu.client()
    dataset = client.get_dataset(DATASET)
    assert (dataset.title, dataset.description) == ("every type", "one of each")
    types = {row.title: row.data_type for row in dataset.data_rows}
    assert types == {
        "a.jpg": DataType.IMAGE,
        "v.mp4": DataType.VIDEO,
        "d.pdf": DataType.PDF,
        "s.mp3": DataType.AUDIO,
        "t.txt": DataType.PLAIN_TEXT,
        "g": DataType.GROUP,
    }
    assert client.get_dataset(DATASET, include_data_rows=False).title == "every type"
    with pytest.raises(ResourceNotFoundError):
        client.get_dataset("0d0d0000-0000-4000-8000-0000000000ff")


def test_created_project_has_the_template_workflow_and_the_dataset_data(emu: RunningEmulator) -> None:
    client = emu.client()
    project = client.get_project(_create(client, project_description="about"))
    assert (project.title, project.description) == ("created", "about")
    assert project.ontology_structure.get_child_by_hash("BoxHash1", type_=Object).name == "Box"
    agent = project.workflow.get_stage(name="triage", type_=AgentStage)
    assert str(agent.uuid) == AGENT_STAGE
    assert [(p.name, str(p.uuid)) for p in agent.pathways] == [("done", PATHWAY)]
    assert str(project.workflow.get_stage(name="end", type_=FinalStage).uuid) == DONE_STAGE
    assert [(str(d.dataset_hash), d.title, d.description) for d in project.list_datasets()] == [
        (DATASET, "every type", "one of each")
    ]
    tasks = list(agent.get_tasks())
    rows = project.list_label_rows_v2()
    assert (
        sorted(t.data_title for t in tasks)
        == sorted(r.data_title for r in rows)
        == ["a.jpg", "d.pdf", "g", "s.mp3", "t.txt", "v.mp4"]
    )
    assert {r.data_hash for r in rows} == {r.uid for r in client.get_dataset(DATASET).data_rows}


def test_projects_on_one_dataset_share_data_but_not_tasks_and_deletion_leaves_the_rest(emu: RunningEmulator) -> None:
    client = emu.client()
    first, second = (client.get_project(_create(client, SMALL)) for _ in range(2))
    assert first.project_hash != second.project_hash
    first_tasks = list(first.workflow.get_stage(name="triage", type_=AgentStage).get_tasks())
    second_stage = second.workflow.get_stage(name="triage", type_=AgentStage)
    assert {t.data_hash for t in first_tasks} == {t.data_hash for t in second_stage.get_tasks()}
    assert not {t.uuid for t in first_tasks} & {t.uuid for t in second_stage.get_tasks()}
    first_tasks[0].proceed(pathway_uuid=PATHWAY)
    assert len(list(second_stage.get_tasks())) == 3  # only the first project's task moved

    client.querier.basic_delete(Project, uid=first.project_hash)
    with pytest.raises(ResourceNotFoundError):
        client.get_project(first.project_hash)
    with pytest.raises(ResourceNotFoundError):
        client.querier.basic_delete(Project, uid=first.project_hash)
    assert len(list(second_stage.get_tasks())) == 3
    assert len(client.get_dataset(SMALL).data_rows) == 3


def test_create_project_errors(emu: RunningEmulator) -> None:
    client = emu.client(max_retries=0)
    with pytest.raises(ResourceNotFoundError, match="workflow template"):
        client.create_project("x", [DATASET], ontology_hash=ONTOLOGY, workflow_template_hash=DATASET)
    with pytest.raises(ResourceNotFoundError, match="dataset"):
        client.create_project("x", [TEMPLATE], ontology_hash=ONTOLOGY, workflow_template_hash=TEMPLATE)
    with pytest.raises(InvalidArgumentsError, match="workflow template only"):
        client.create_project("x", [DATASET], ontology_hash=ONTOLOGY)
    with pytest.raises(InvalidArgumentsError, match="exactly one dataset"):
        client.create_project("x", [DATASET, SMALL], ontology_hash=ONTOLOGY, workflow_template_hash=TEMPLATE)
    # Without an ontology Encord makes an empty one for the project.
    project = client.get_project(client.create_project("x", [SMALL], workflow_template_hash=TEMPLATE))
    assert project.ontology_structure.objects == []


def test_every_item_type_is_a_real_file(emu: RunningEmulator) -> None:
    client = emu.client()
    project = client.get_project(_create(client))
    rows = {row.data_title: row for row in project.list_label_rows_v2()}
    items = {title: client.get_storage_item(row.backing_item_uuid or "", sign_url=True) for title, row in rows.items()}

    def content(title: str) -> bytes:
        response = requests.get(items[title].get_signed_url() or "", timeout=10)
        response.raise_for_status()
        assert response.headers["Content-Type"] == items[title].mime_type
        return response.content

    assert np.asarray(Image.open(io.BytesIO(content("a.jpg")))).shape == (24, 32, 3)
    assert items["a.jpg"].mime_type == "image/jpeg"
    assert content("d.pdf").startswith(b"%PDF")
    assert items["d.pdf"].item_type == StorageItemType.PDF
    with av.open(io.BytesIO(content("s.mp3"))) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name.startswith("mp3")  # the decoder: mp3float
        assert stream.codec_context.sample_rate == items["s.mp3"].audio_sample_rate
    assert items["s.mp3"].item_type == StorageItemType.AUDIO
    assert items["s.mp3"].duration == pytest.approx(1.5)
    assert (items["s.mp3"].width, items["s.mp3"].height, items["s.mp3"].audio_codec) == (None, None, "mp3")
    assert content("t.txt").decode().strip()
    assert (items["t.txt"].item_type, items["t.txt"].client_metadata) == (StorageItemType.PLAIN_TEXT, {"k": "v"})
    group = items["g"]
    assert (group.item_type, group.get_signed_url()) == (StorageItemType.GROUP, None)
    members = list(group.get_child_items(get_signed_urls=True))
    assert [(m.name, m.item_type) for m in members] == [
        ("g.txt", StorageItemType.PLAIN_TEXT),
        ("image-1", StorageItemType.IMAGE),
    ]
    assert all(requests.get(m.get_signed_url() or "", timeout=10).ok for m in members)


def test_label_rows_of_every_type_initialise_save_and_reload(emu: RunningEmulator) -> None:
    client = emu.client()
    project = client.get_project(_create(client))
    rows = project.list_label_rows_v2()
    assert {row.data_type for row in rows} == {
        DataType.IMAGE,
        DataType.VIDEO,
        DataType.PDF,
        DataType.AUDIO,
        DataType.PLAIN_TEXT,
        DataType.GROUP,
    }
    with project.create_bundle() as bundle:
        for row in rows:
            row.initialise_labels(bundle=bundle)
    box = project.ontology_structure.get_child_by_hash("BoxHash1", type_=Object)
    from encord.objects.coordinates import BoundingBoxCoordinates

    pdf = next(row for row in rows if row.data_type == DataType.PDF)
    instance = box.create_instance()
    instance.set_for_frames(BoundingBoxCoordinates(height=0.5, width=0.5, top_left_x=0, top_left_y=0), frames=0)
    pdf.add_object_instance(instance)
    pdf.save()
    again = project.list_label_rows_v2(data_hashes=[pdf.data_hash])[0]
    again.initialise_labels()
    assert [o.object_hash for o in again.get_object_instances()] == [instance.object_hash]


def test_label_branches_have_their_own_rows(emu: RunningEmulator) -> None:
    client = emu.client()
    project = client.get_project(_create(client, SMALL))
    branch = project.list_label_rows_v2(branch_name="experiment")
    assert [(row.branch_name, row.label_hash) for row in branch] == [("experiment", None)] * 3
    branch[0].initialise_labels()
    assert branch[0].branch_name == "experiment"
    assert branch[0].label_hash is not None
    main = project.list_label_rows_v2(data_hashes=[branch[0].data_hash])[0]
    assert (main.branch_name, main.label_hash) == ("main", None)
    listed = project.list_label_rows_v2(branch_name="experiment", data_hashes=[branch[0].data_hash])
    assert [row.label_hash for row in listed] == [branch[0].label_hash]
    # A task moved on main shows on the branch: one task per data unit.
    task = next(iter(project.workflow.get_stage(name="triage", type_=AgentStage).get_tasks()))
    task.proceed(pathway_name="done")
    moved = project.list_label_rows_v2(branch_name="experiment", data_hashes=[str(task.data_hash)])[0]
    assert moved.workflow_graph_node is not None
    assert moved.workflow_graph_node.title == "end"


def test_malformed_project_hash_is_a_missing_permission(emu: RunningEmulator) -> None:
    with pytest.raises(AuthorisationError, match="not authorised"):
        emu.client(max_retries=0).get_project("not-a-project-hash")


def test_unsupported_dataset_calls_still_answer_501_naming_the_route(emu: RunningEmulator) -> None:
    client = emu.client(max_retries=0)
    with pytest.raises(Exception, match="does not implement POST /v2/public/datasets"):
        client.create_dataset("new", dataset_type=None)  # type: ignore[arg-type]


def test_a_restricted_key_cannot_delete_a_project_outside_its_list(emu: RunningEmulator) -> None:
    client = emu.client()
    mine, theirs = _create(client, SMALL), _create(client, SMALL)
    emu.add_key("limited", projects=[mine])
    limited = emu.client_for("limited", max_retries=0)
    with pytest.raises(AuthorisationError):
        limited.querier.basic_delete(Project, uid=theirs)
    assert client.get_project(theirs).project_hash == theirs
    limited.querier.basic_delete(Project, uid=mine)
    with pytest.raises(ResourceNotFoundError):
        client.get_project(mine)


def test_label_filters_on_a_branch_look_at_the_branch_rows(emu: RunningEmulator) -> None:
    client = emu.client()
    project = client.get_project(_create(client, SMALL))
    first = project.list_label_rows_v2(branch_name="b")[0]
    first.initialise_labels()  # a label row on branch b only: main has none
    assert first.label_hash is not None
    on_branch = project.list_label_rows_v2(branch_name="b", label_hashes=[first.label_hash])
    assert [row.data_hash for row in on_branch] == [first.data_hash]
    assert project.list_label_rows_v2(label_hashes=[first.label_hash]) == []


def test_a_restricted_key_reads_datasets(emu: RunningEmulator) -> None:
    client = emu.client()
    emu.add_key("dataset-reader", projects=[_create(client, SMALL)])
    assert len(emu.client_for("dataset-reader").get_dataset(SMALL).data_rows) == 3


def test_the_state_dump_lists_the_catalog(emu: RunningEmulator) -> None:
    dump = requests.get(f"{emu.url}/_emulator/state", timeout=10).json()
    assert ONTOLOGY in {o["ontology_hash"] for o in dump["ontologies"]}
    assert {(d["dataset_hash"], d["data_units"]) for d in dump["datasets"]} == {(DATASET, 6), (SMALL, 3)}
    assert dump["workflow_templates"] == [
        {"template_hash": TEMPLATE, "title": "workflow template", "stages": ["triage", "end"]}
    ]
