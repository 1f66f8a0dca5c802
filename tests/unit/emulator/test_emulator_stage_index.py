"""The stage index behind task listings: pages in creation order, correct after moves out of and back into a stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from encord_emulator.seed import load_seed
from encord_emulator.state import EmulatorState

P = "00000000-0000-4000-8000-0000000000a1"


def _state(tmp_path: Path, count: int) -> EmulatorState:
    seed = {
        "settings": {"page_size": 4},
        "projects": [
            {
                "project_hash": P,
                "title": "indexed",
                "stages": [
                    {"title": "agent", "type": "agent", "pathways": {"go": "review"}},
                    {"title": "review", "type": "review"},
                ],
                "data": [
                    {"type": "image", "title": "img-{i:02d}.png", "count": count, "generate": {"width": 8, "height": 8}}
                ],
            }
        ],
    }
    spec, root = load_seed(seed)
    return EmulatorState(spec, root=root, cache_dir=tmp_path)


def _list_all(state: EmulatorState, stage: str, **query: list[str]) -> list[list[str]]:
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        page: dict[str, Any] = state.list_tasks(P, stage, {**query, **({"pageToken": [token]} if token else {})})
        pages.append([task["dataTitle"] for task in page["results"]])
        token = page["nextPageToken"]
        if token is None:
            return pages


def test_listing_pages_follow_creation_order_after_moves_out_and_back(tmp_path: Path) -> None:
    state = _state(tmp_path, 10)
    project = state.project(P)
    agent, review = (str(stage.uuid) for stage in project.stages)
    assert _list_all(state, agent) == [
        ["img-00.png", "img-01.png", "img-02.png", "img-03.png"],
        ["img-04.png", "img-05.png", "img-06.png", "img-07.png"],
        ["img-08.png", "img-09.png"],
    ]
    task = {row.title: str(row.task_uuid) for row in project.rows.values()}
    state.move_tasks(P, agent, {"taskUuids": [task["img-01.png"], task["img-05.png"]], "destinationStageUuid": review})
    assert _list_all(state, review) == [["img-01.png", "img-05.png"]]
    assert _list_all(state, agent)[0] == ["img-00.png", "img-02.png", "img-03.png", "img-04.png"]
    state.move_tasks(P, review, {"taskUuids": [task["img-05.png"]], "destinationStageUuid": agent})
    assert [title for page in _list_all(state, agent) for title in page] == [
        f"img-{i:02d}.png" for i in range(10) if i != 1
    ]
    assert state.tasks_in_stage(P, "review") == [task["img-01.png"]]
    # A token handed out before a move still resumes after the task it names.
    first = state.list_tasks(P, agent, {})
    state.move_tasks(P, agent, {"taskUuids": [task["img-06.png"]], "destinationStageUuid": review})
    rest = state.list_tasks(P, agent, {"pageToken": [first["nextPageToken"]]})
    assert [t["dataTitle"] for t in rest["results"]] == ["img-05.png", "img-07.png", "img-08.png", "img-09.png"]


def test_filters_apply_within_the_stage(tmp_path: Path) -> None:
    state = _state(tmp_path, 10)
    agent = str(state.project(P).stages[0].uuid)
    assert _list_all(state, agent, dataTitleContains=["IMG-0"], statuses=["NEW"])[0][0] == "img-00.png"
    assert _list_all(state, agent, statuses=["COMPLETED"]) == [[]]


def test_label_row_metadata_by_label_hash_uses_the_label_index(tmp_path: Path) -> None:
    state = _state(tmp_path, 5)
    rows = list(state.project(P).rows.values())
    state.create_label_rows(P, [str(rows[3].data_hash), str(rows[1].data_hash)], {}, base_url="http://x")
    named = [str(rows[3].label_hash), "not-a-uuid", str(rows[1].label_hash)]
    found = state.label_row_metadata(P, {"label_hashes": named, "include_uninitialised_labels": True})
    assert [entry["data_title"] for entry in found] == ["img-01.png", "img-03.png"]
