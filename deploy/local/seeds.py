"""Emulator seeds made on the fly: the demo project's workflow with as many tiny images as a test or benchmark needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEMO_SEED = Path(__file__).resolve().parents[2] / "examples" / "demo" / "project.yaml"
DEMO_PROJECT_HASH = "7e3b9c1a-4d2f-4a8e-9b6c-1f0d2e3a4b5c"


def image_project_seed(
    *,
    bright: int,
    dark: int,
    project_hash: str = DEMO_PROJECT_HASH,
    size: int = 32,
    extra_images: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The demo workflow (agent stage `pre-label`, pathways `annotate` and `skip`) over `bright` + `dark` images.

    Titles are `bright-NNN.png` / `dark-NNN.png`, so a test knows each task's expected pathway from its title.
    `extra_images` adds single images with those titles (e.g. one a test agent treats specially).
    """
    generate = {"width": size, "height": size}
    data: list[dict[str, Any]] = [
        {
            "type": "image",
            "title": f"{brightness}-{{i:03d}}.png",
            "count": count,
            "generate": {**generate, "brightness": brightness, "seed": seed},
        }
        for brightness, count, seed in (("bright", bright, 1), ("dark", dark, 2))
        if count
    ]
    data += [
        {"type": "image", "title": title, "generate": {**generate, "brightness": "bright", "seed": 3}}
        for title in extra_images
    ]
    return {
        "version": 1,
        "settings": {"page_size": 100},
        "projects": [
            {
                "project_hash": project_hash,
                "title": "Generated pre-labelling",
                "dataset_title": "generated-dataset",
                "ontology": {
                    "title": "Demo ontology",
                    "classifications": [{"name": "brightness", "type": "radio", "options": ["bright", "dark"]}],
                },
                "stages": [
                    {"title": "pre-label", "type": "agent", "pathways": {"annotate": "Annotate", "skip": "Complete"}},
                    {"title": "Annotate", "type": "annotation"},
                    {"title": "Complete", "type": "done"},
                ],
                "data": data,
            }
        ],
    }


def write_seed(seed: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(seed, sort_keys=False))
    return path


def expected_stage(title: str) -> str:
    """Where the demo agent sends an image of the generated seed (or of the demo seed's bright/dark images)."""
    return "Annotate" if title.startswith("bright") else "Complete"


def backlog_seed(
    *, count: int, image: Path, project_hash: str = DEMO_PROJECT_HASH, page_size: int = 100
) -> dict[str, Any]:
    """The demo workflow with `count` tasks waiting at `pre-label`, all backed by one small image file (a big
    backlog builds in seconds: nothing is generated per task). Titles are `bright-NNNNNN.png`."""
    seed = image_project_seed(bright=1, dark=0, project_hash=project_hash)
    seed["settings"]["page_size"] = page_size
    seed["projects"][0]["data"] = [{"type": "image", "title": "bright-{i:06d}.png", "count": count, "path": str(image)}]
    return seed
