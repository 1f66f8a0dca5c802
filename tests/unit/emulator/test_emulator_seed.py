"""Seed parsing: valid seeds load, mistakes fail with the place and the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from encord_emulator.build import build_state
from encord_emulator.errors import SeedError
from encord_emulator.seed import load_seed
from encord_emulator.testing import DEMO_SEED


def _seed(**project: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "project_hash": "00000000-0000-4000-8000-000000000001",
        "title": "t",
        "stages": [
            {"title": "agent", "type": "agent", "pathways": {"go": "done"}},
            {"title": "done", "type": "done"},
        ],
    }
    base.update(project)
    return {"projects": [base]}


def test_demo_seed_has_the_documented_shape() -> None:
    spec, root = load_seed(DEMO_SEED)
    assert root == DEMO_SEED.parent
    (project,) = spec.projects
    agent = project.stages[0]
    assert (agent.title, agent.type) == ("pre-label", "agent")
    assert set(agent.pathways) == {"annotate", "skip"}
    counts: dict[str, int] = {}
    for item in project.data:
        counts[item.type] = counts.get(item.type, 0) + item.count
    assert counts["image"] >= 20
    assert counts["video"] == 3
    assert counts["image_group"] == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"stages": [{"title": "a", "type": "agent", "pathways": {"go": "nowhere"}}]}, "no stage titled 'nowhere'"),
        ({"stages": [{"title": "a", "type": "agent"}, {"title": "a", "type": "done"}]}, "unique"),
        ({"stages": [{"title": "a", "type": "robot"}]}, "type"),
        ({"data": [{"type": "image", "title": "x.png"}]}, "exactly one of `path` or `generate`"),
        ({"data": [{"type": "image_group", "title": "g", "path": "a.png"}]}, "not `path`"),
        ({"data": [{"type": "image", "title": "x", "generate": {"width": 31}}]}, "must be even"),
        ({"data": [{"type": "image", "title": "x", "generate": {}, "stage": "nope"}]}, "no stage titled 'nope'"),
        ({"colour": "red"}, r"projects\[0\]\.colour: unknown key .colour. \(allowed: data, "),
    ],
)
def test_invalid_seeds_name_the_problem(change: dict[str, Any], message: str) -> None:
    with pytest.raises(SeedError, match=message):
        load_seed(_seed(**change))


def test_counted_items_get_distinct_titles_and_stable_ids(tmp_path: Path) -> None:
    seed = _seed(data=[{"type": "image", "title": "img-{i}.png", "count": 3, "generate": {"width": 8, "height": 8}}])
    spec, root = load_seed(seed)
    first = build_state(spec.projects, root=root, cache_dir=tmp_path)
    second = build_state(spec.projects, root=root, cache_dir=tmp_path)
    (project,) = first.projects.values()
    assert [row.title for row in project.rows.values()] == ["img-0.png", "img-1.png", "img-2.png"]
    assert list(project.rows) == list(next(iter(second.projects.values())).rows)
    assert len({item.media.path for item in first.items.values() if item.media}) == 3


def test_items_start_in_the_named_stage_and_paths_resolve_against_the_seed(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (6, 4)).save(tmp_path / "photo.png")
    seed = _seed(data=[{"type": "image", "title": "p", "path": "photo.png", "stage": "done"}])
    spec, root = load_seed(seed, base_dir=tmp_path)
    (project,) = build_state(spec.projects, root=root, cache_dir=tmp_path / "cache").projects.values()
    (row,) = project.rows.values()
    assert project.stage(row.stage_uuid) is project.stage_by_title("done")
    missing = _seed(data=[{"type": "image", "title": "p", "path": "absent.png"}])
    spec, root = load_seed(missing, base_dir=tmp_path)
    with pytest.raises(SeedError, match="media file not found"):
        build_state(spec.projects, root=root, cache_dir=tmp_path)
