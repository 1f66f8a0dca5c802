"""The unmodified SDK through the whole agent flow against the emulator, signatures checked."""

from __future__ import annotations

import requests
import yaml
from encord.objects import Classification, LabelRowV2, Object
from encord.objects.coordinates import BoundingBoxCoordinates
from encord.project import Project
from encord.workflow.stages.agent import AgentStage, AgentTask

from encord_emulator.pytest_plugin import EmulatorFactory
from encord_emulator.testing import DEMO_SEED, RunningEmulator


def _stage(project: Project, name: str = "pre-label") -> AgentStage:
    return project.workflow.get_stage(name=name, type_=AgentStage)


def _demo_paged_by(emulator_factory: EmulatorFactory, *, page_size: int) -> tuple[RunningEmulator, AgentStage]:
    """The demo project served `page_size` tasks per page, and its `pre-label` stage."""
    seed = yaml.safe_load(DEMO_SEED.read_text())
    seed["settings"]["page_size"] = page_size
    emulator = emulator_factory(seed)
    return emulator, _stage(emulator.client().get_project(emulator.project_hash))


def _task_titled(stage: AgentStage, prefix: str) -> AgentTask:
    return next(task for task in stage.get_tasks() if task.data_title.startswith(prefix))


def _label(project: Project, row: LabelRowV2, *, frame: int = 0) -> None:
    box = project.ontology_structure.get_child_by_title("Box", type_=Object)
    instance = box.create_instance()
    coordinates = BoundingBoxCoordinates(height=0.25, width=0.5, top_left_x=0.1, top_left_y=0.2)
    instance.set_for_frames(coordinates, frames=frame)
    row.add_object_instance(instance)
    brightness = project.ontology_structure.get_child_by_title("brightness", type_=Classification)
    answer = brightness.create_instance()
    answer.set_answer(brightness.attributes[0].options[1])
    answer.set_for_frames(frame)
    row.add_classification_instance(answer)


def _run_flow(emulator: RunningEmulator, title_prefix: str, *, frame: int = 0) -> AgentTask:
    client = emulator.client()
    project = client.get_project(emulator.project_hash)
    stage = _stage(project)
    task = _task_titled(stage, title_prefix)

    (row,) = project.list_label_rows_v2(data_hashes=[task.data_hash])
    assert row.workflow_graph_node is not None
    assert row.workflow_graph_node.title == "pre-label"
    with project.create_bundle() as bundle:
        row.initialise_labels(bundle=bundle)
    _label(project, row, frame=frame)
    with project.create_bundle() as bundle:
        row.save(bundle=bundle)
        row.set_priority(0.75, bundle=bundle)
    task.proceed(pathway_name="annotate")

    assert emulator.state.task_stage(task.uuid) == "Annotate"
    assert emulator.state.priority(task.data_hash) == 0.75
    annotate = project.workflow.get_stage(name="Annotate")
    assert task.data_hash in {t.data_hash for t in annotate.get_tasks()}
    assert task.uuid not in {t.uuid for t in stage.get_tasks()}

    # A fresh client and project see the saved labels after re-initialising from the server.
    again = emulator.client().get_project(emulator.project_hash)
    (fresh,) = again.list_label_rows_v2(data_hashes=[task.data_hash])
    assert fresh.label_hash == row.label_hash
    assert fresh.workflow_graph_node is not None
    assert fresh.workflow_graph_node.title == "Annotate"
    assert fresh.priority == 0.75
    fresh.initialise_labels()
    (obj,) = fresh.get_object_instances()
    coordinates = obj.get_annotation(frame).coordinates
    assert isinstance(coordinates, BoundingBoxCoordinates)
    assert coordinates.top_left_y == 0.2
    (cls,) = fresh.get_classification_instances()
    assert cls.get_answer() == cls.ontology_item.attributes[0].options[1]
    assert fresh.to_encord_dict()["object_answers"] == row.to_encord_dict()["object_answers"]
    return task


def test_image_flow_labels_prioritises_and_proceeds(emulator: RunningEmulator) -> None:
    _run_flow(emulator, "bright-")


def test_video_flow_labels_a_later_frame(emulator: RunningEmulator) -> None:
    task = _run_flow(emulator, "clip-", frame=17)
    blob = emulator.state.label_blob(task.data_hash)
    assert blob is not None
    (unit,) = blob["data_units"].values()
    assert "17" in unit["labels"]


def test_image_group_flow_and_child_items(emulator: RunningEmulator) -> None:
    _run_flow(emulator, "group-")
    client = emulator.client()
    project = client.get_project(emulator.project_hash)
    (row,) = project.list_label_rows_v2(data_title_eq="group-0")
    row.initialise_labels(include_signed_url=True)
    assert row.number_of_frames == 3
    links = [row.get_frame_view(i).data_link for i in range(3)]
    assert all(link and link.startswith(emulator.url) for link in links)
    assert row.backing_item_uuid is not None
    item = client.get_storage_item(row.backing_item_uuid)
    children = list(item.get_child_items(get_signed_urls=True))
    assert len(children) == 3
    for child in children:
        url = child.get_signed_url()
        assert url is not None
        response = requests.get(url, timeout=5)
        assert response.status_code == 200
        assert response.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(response.content) == child.file_size


def test_bundled_proceed_by_pathway_uuid_moves_every_task(emulator: RunningEmulator) -> None:
    project = emulator.client().get_project(emulator.project_hash)
    stage = _stage(project)
    skip = next(pathway for pathway in stage.pathways if pathway.name == "skip")
    tasks = [task for task in stage.get_tasks() if task.data_title.startswith("dark-")]
    assert len(tasks) == 12
    with project.create_bundle() as bundle:
        for task in tasks:
            task.proceed(pathway_uuid=str(skip.uuid), bundle=bundle)
    assert emulator.requests("POST /v2/public/projects/{project}/workflow/stages/{stage}/actions") == 1
    done = set(emulator.state.tasks_in_stage(emulator.project_hash, "Complete"))
    assert {str(task.uuid) for task in tasks} <= done


def test_storage_items_signed_urls_and_range(emulator: RunningEmulator) -> None:
    client = emulator.client()
    project = client.get_project(emulator.project_hash)
    rows = project.list_label_rows_v2(data_title_like="clip-%")
    assert len(rows) == 3
    uuids = [row.backing_item_uuid for row in rows if row.backing_item_uuid is not None]
    items = list(client.get_storage_items(uuids, sign_url=True))
    assert [item.uuid for item in items] == uuids
    video = items[0]
    assert video.frame_count == 45
    assert video.fps == 15.0
    assert video.width == 320
    url = video.get_signed_url()
    assert url is not None
    full = requests.get(url, timeout=5)
    assert full.status_code == 200
    assert len(full.content) == video.file_size
    assert full.content[4:8] == b"ftyp"
    part = requests.get(url, headers={"Range": "bytes=10-19"}, timeout=5)
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 10-19/{video.file_size}"
    assert part.content == full.content[10:20]
    tail = requests.get(url, headers={"Range": "bytes=-5"}, timeout=5)
    assert tail.content == full.content[-5:]


def test_client_metadata_update_single_and_bundled(emulator: RunningEmulator) -> None:
    client = emulator.client()
    project = client.get_project(emulator.project_hash)
    rows = project.list_label_rows_v2(data_title_like="bright-0%")
    uuids = [row.backing_item_uuid for row in rows[:3] if row.backing_item_uuid is not None]
    first = client.get_storage_item(uuids[0])
    first.update(client_metadata={"checked": True})
    assert emulator.state.client_metadata(uuids[0]) == {"checked": True}
    with project.create_bundle() as bundle:
        for item in client.get_storage_items(uuids[1:]):
            item.update(client_metadata={"batch": item.name}, bundle=bundle)
    assert emulator.requests("PATCH /v2/public/storage/items/patch-bulk") == 1
    for uuid in uuids[1:]:
        assert emulator.state.client_metadata(uuid)["batch"].startswith("bright-0")
    (row,) = project.list_label_rows_v2(data_hashes=[rows[0].data_hash], include_client_metadata=True)
    assert row.client_metadata == {"checked": True}


def test_move_tasks_to_another_stage(emulator: RunningEmulator) -> None:
    project = emulator.client().get_project(emulator.project_hash)
    stage = _stage(project)
    review = project.workflow.get_stage(name="Review")
    task = _task_titled(stage, "dark-03")
    task.move(destination_stage_uuid=review.uuid)
    assert emulator.state.task_stage(task.uuid) == "Review"


def test_task_listing_pages_and_filters(emulator_factory: EmulatorFactory) -> None:
    emulator, stage = _demo_paged_by(emulator_factory, page_size=5)
    tasks = list(stage.get_tasks())
    assert len(tasks) == 28
    assert len({task.uuid for task in tasks}) == 28
    assert emulator.requests("GET /v2/public/projects/{project}/workflow/stages/{stage}/tasks") == 6
    picked = [tasks[0].data_hash, tasks[5].data_hash]
    assert {t.data_hash for t in stage.get_tasks(data_hash=picked)} == set(picked)
    assert {t.data_title for t in stage.get_tasks(data_title="clip-")} == {"clip-0.mp4", "clip-1.mp4", "clip-2.mp4"}


def test_paging_while_proceeding_visits_every_task(emulator_factory: EmulatorFactory) -> None:
    emulator, stage = _demo_paged_by(emulator_factory, page_size=4)
    visited = []
    for task in stage.get_tasks():  # pages are fetched lazily, between the proceeds
        task.proceed(pathway_name="annotate")
        visited.append(task.uuid)
    assert len(set(visited)) == 28
    assert emulator.state.tasks_in_stage(emulator.project_hash, "pre-label") == []


def test_image_sequence_is_a_video_row_with_child_images(emulator_factory: EmulatorFactory) -> None:
    seed = {
        "projects": [
            {
                "project_hash": "5e9a0000-0000-4000-8000-000000000001",
                "title": "sequences",
                "ontology": {
                    "objects": [{"name": "Box"}],
                    "classifications": [{"name": "brightness", "options": ["bright", "dark"]}],
                },
                "stages": [
                    {"title": "pre-label", "type": "agent", "pathways": {"annotate": "done"}},
                    {"title": "done", "type": "done"},
                ],
                "data": [
                    {
                        "type": "image_sequence",
                        "title": "seq",
                        "image_count": 4,
                        "generate": {"width": 64, "height": 48, "fps": 2, "keyframe_interval": 2},
                    }
                ],
            }
        ]
    }
    emulator = emulator_factory(seed)
    client = emulator.client()
    project = client.get_project(emulator.project_hash)
    (row,) = project.list_label_rows_v2()
    assert row.number_of_frames == 4
    assert row.fps == 2.0
    row.initialise_labels(include_signed_url=True)
    assert row.data_link is not None
    video = requests.get(row.data_link, timeout=5)
    assert video.status_code == 200
    assert video.content[4:8] == b"ftyp"
    assert row.backing_item_uuid is not None
    item = client.get_storage_item(row.backing_item_uuid)
    assert item.item_type.value == "imageSequence"
    assert len(list(item.get_child_items())) == 4
    _label(project, row, frame=3)
    row.save()
    blob = emulator.state.label_blob(row.data_hash)
    assert blob is not None
    assert "3" in next(iter(blob["data_units"].values()))["labels"]
