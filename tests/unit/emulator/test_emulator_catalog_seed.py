"""Seed catalog entities (ontologies, datasets, workflow templates) and the new item types: valid ones load,
mistakes fail naming the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from encord_emulator.errors import SeedError
from encord_emulator.seed import load_seed

TEMPLATE = {"template_hash": "07070000-0000-4000-8000-000000000001", "stages": [{"title": "end", "type": "done"}]}


def _dataset(*items: dict[str, Any], dataset_hash: str = "0d0d0000-0000-4000-8000-000000000001") -> dict[str, Any]:
    return {"dataset_hash": dataset_hash, "title": "d", "data": list(items)}


def test_a_catalog_only_seed_loads() -> None:
    spec, _ = load_seed(
        {
            "ontologies": [{"ontology_hash": "0a0a0000-0000-4000-8000-000000000001", "objects": [{"name": "Box"}]}],
            "workflow_templates": [TEMPLATE],
            "datasets": [
                _dataset(
                    {"type": "pdf", "title": "a.pdf", "generate": {}},
                    {"type": "audio", "title": "a.mp3", "generate": {}},
                    {"type": "text", "title": "a.txt", "generate": {}},
                    {"type": "data_group", "title": "g", "members": [{"type": "text", "generate": {}}]},
                )
            ],
        }
    )
    assert spec.projects == []
    assert [item.type for item in spec.datasets[0].data] == ["pdf", "audio", "text", "data_group"]


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ({"datasets": [_dataset({"type": "data_group", "title": "g"})]}, "takes `members`"),
        (
            {"datasets": [_dataset({"type": "text", "title": "t", "generate": {}, "members": []})]},
            "other types take no `members`",
        ),
        (
            {"datasets": [_dataset({"type": "data_group", "title": "g", "members": [{"type": "pdf"}]})]},
            "exactly one of `path` or `generate`",
        ),
        (
            {"datasets": [_dataset({"type": "image", "title": "i", "generate": {}, "stage": "x"})]},
            "dataset items take no `stage`",
        ),
        ({"datasets": [_dataset(), _dataset()]}, "dataset hashes must be unique"),
        ({"workflow_templates": [TEMPLATE, TEMPLATE]}, "workflow template hashes must be unique"),
        (
            {
                "workflow_templates": [
                    {**TEMPLATE, "stages": [{"title": "a", "type": "agent", "pathways": {"go": "nowhere"}}]}
                ]
            },
            "no stage titled 'nowhere'",
        ),
        ({"ontologies": [{"title": "no hash"}]}, "ontology_hash"),
        (
            {"datasets": [_dataset({"type": "image", "title": "i", "generate": {"format": "gif"}})]},
            "format",
        ),
    ],
)
def test_catalog_mistakes_are_reported(seed: dict[str, Any], message: str) -> None:
    with pytest.raises(SeedError, match=message):
        load_seed(seed)


def test_pdf_audio_and_text_files_named_by_path_are_probed(tmp_path: Path) -> None:
    from encord_emulator.build import build_state
    from encord_emulator.media import generate_audio, generate_pdf, generate_text
    from encord_emulator.seed import GenerateParams

    made = [
        generate(GenerateParams(frames=20, fps=10), cache_dir=tmp_path)
        for generate in (generate_pdf, generate_audio, generate_text)
    ]
    spec, root = load_seed(
        {
            "datasets": [
                _dataset(
                    *(
                        {"type": kind, "title": media.path.name, "path": str(media.path)}
                        for kind, media in zip(("pdf", "audio", "text"), made, strict=True)
                    )
                )
            ]
        },
        base_dir=tmp_path,
    )
    built = build_state([], root=root, cache_dir=tmp_path, datasets=spec.datasets)
    (holder,) = built.datasets.values()
    probed = {row.data_type: built.items[row.item_uuid].media for row in holder.rows.values()}
    pdf, audio, text = probed["pdf"], probed["audio"], probed["plain_text"]
    assert pdf is not None
    assert (pdf.mime_type, pdf.frames) == ("application/pdf", 1)
    assert audio is not None
    assert audio.audio is not None
    assert (audio.mime_type, audio.audio.sample_rate, audio.audio.channels) == ("audio/mpeg", 22_050, 1)
    assert audio.duration == pytest.approx(2.0, abs=0.1)
    assert text is not None
    assert (text.mime_type, text.size) == ("text/plain", made[2].size)


def test_unsupported_files_are_seed_errors(tmp_path: Path) -> None:
    from encord_emulator.build import build_state

    (tmp_path / "a.doc").write_bytes(b"x")
    (tmp_path / "fake.pdf").write_bytes(b"not a pdf")
    for kind, name, message in (("text", "a.doc", "unsupported text type"), ("pdf", "fake.pdf", "not a PDF")):
        spec, root = load_seed({"datasets": [_dataset({"type": kind, "title": name, "path": name})]}, base_dir=tmp_path)
        with pytest.raises(SeedError, match=message):
            build_state([], root=root, cache_dir=tmp_path, datasets=spec.datasets)
