"""The project the dependency tests run against, and TaskScopes built from real SDK objects."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import av
import numpy as np
import requests
from encord.storage import StorageItem
from encord.user_client import EncordUserClient
from encord.workflow.stages.agent import AgentStage
from numpy.typing import NDArray
from PIL import Image

from runner_core.context import BatchScope, TaskScope
from runner_core.media.settings import MediaSettings

PROJECT_HASH = "d3e50000-0000-4000-8000-000000000001"
OTHER_PROJECT_HASH = "d3e50000-0000-4000-8000-000000000002"
# Attached to PROJECT_HASH's dataset (same data hashes), with its own workflow, tasks and labels.
TWIN_PROJECT_HASH = "d3e50000-0000-4000-8000-000000000003"
STAGE = "look"
TITLES = ("photo.png", "clip.mp4", "group", "sequence")


def _project(project_hash: str, prefix: str) -> dict[str, Any]:
    return {
        "project_hash": project_hash,
        "title": f"{prefix} dependency tests",
        "ontology": {"classifications": [{"name": "seen", "type": "radio", "options": ["yes", "no"]}]},
        "stages": [
            {"title": STAGE, "type": "agent", "pathways": {"done": "Complete"}},
            {"title": "Complete", "type": "done"},
        ],
        "data": [
            {"type": "image", "title": f"{prefix}photo.png", "generate": {"width": 64, "height": 48, "seed": 11}},
            {
                "type": "video",
                "title": f"{prefix}clip.mp4",
                "generate": {"width": 64, "height": 48, "frames": 45, "fps": 15, "keyframe_interval": 15, "seed": 12},
            },
            {
                "type": "image_group",
                "title": f"{prefix}group",
                "image_count": 3,
                "generate": {"width": 64, "height": 48, "seed": 13},
            },
            {
                "type": "image_sequence",
                "title": f"{prefix}sequence",
                "image_count": 4,
                "generate": {"width": 64, "height": 48, "seed": 14, "fps": 5, "keyframe_interval": 2},
            },
        ],
    }


def seed() -> dict[str, Any]:
    twin = _project(TWIN_PROJECT_HASH, "twin-")
    del twin["data"]  # it has PROJECT_HASH's instead
    twin["data_from"] = PROJECT_HASH
    return {
        "version": 1,
        "projects": [_project(PROJECT_HASH, ""), _project(OTHER_PROJECT_HASH, "other-"), twin],
    }


def scopes(client: EncordUserClient, media: MediaSettings, project_hash: str = PROJECT_HASH) -> dict[str, TaskScope]:
    """One TaskScope per task at the agent stage, keyed by data title, as the runner builds them."""
    project = client.get_project(project_hash)
    stage = project.workflow.get_stage(name=STAGE, type_=AgentStage)
    tasks = list(stage.get_tasks())
    rows = {row.data_hash: row for row in project.list_label_rows_v2(data_hashes=[t.data_hash for t in tasks])}
    ordered = [rows[str(task.data_hash)] for task in tasks]
    items = client.get_storage_items([row.backing_item_uuid for row in ordered], sign_url=True)  # type: ignore[misc]
    batch = BatchScope(project=project, stage=stage, client=client, media=media, tasks=tasks)
    return {
        row.data_title: TaskScope(batch=batch, task=task, label_row=row, storage_item=item)
        for task, row, item in zip(tasks, ordered, items, strict=True)
    }


def item_of(scope: TaskScope) -> StorageItem:
    assert scope.storage_item is not None
    return scope.storage_item


def fetch(url: str) -> bytes:
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    return response.content


def decode_png(data: bytes) -> NDArray[np.uint8]:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def decode_video(data: bytes) -> list[NDArray[np.uint8]]:
    with av.open(io.BytesIO(data), mode="r") as container:
        return [np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8) for frame in container.decode(video=0)]


def children_pixels(item: StorageItem) -> list[NDArray[np.uint8]]:
    urls = [child.get_signed_url() for child in item.get_child_items(get_signed_urls=True)]
    return [decode_png(fetch(url)) for url in urls if url is not None]


def files_under(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*"))


def media_settings_for(root: Path) -> MediaSettings:
    return MediaSettings(temp_dir=root / "media-root", download_timeout_s=5, download_backoff_s=0.01)
