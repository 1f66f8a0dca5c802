"""Seed problems: one line each, naming the file, the line and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from encord_emulator.errors import SeedError
from encord_emulator.seed import SeedSpec, load_seed

_SEED = """\
version: 1
projects:
  - project_hash: 7e3b9c1a-4d2f-4a8e-9b6c-1f0d2e3a4b5c
    title: typos
    stages:
      - titel: pre-label
        type: agent
      - title: Complete
        type: dne
    data:
      - type: image
        title: a.png
        genrate: {width: 8, height: 8}
"""


def _error(tmp_path: Path, text: str) -> str:
    seed = tmp_path / "seed.yaml"
    seed.write_text(text)
    with pytest.raises(SeedError) as raised:
        load_seed(seed)
    return str(raised.value).replace(str(seed), "seed.yaml")


def test_each_problem_is_one_line_with_file_line_and_did_you_mean(tmp_path: Path) -> None:
    assert _error(tmp_path, _SEED).splitlines() == [
        "seed.yaml:6: projects[0].stages[0].titel: unknown key 'titel' (did you mean 'title'?)",
        "seed.yaml:9: projects[0].stages[1].type: 'dne' is not one of agent, annotation, review, done "
        "(did you mean 'done'?)",
        "seed.yaml:13: projects[0].data[0].genrate: unknown key 'genrate' (did you mean 'generate'?)",
    ]


def test_a_missing_key_names_the_mapping_that_lacks_it(tmp_path: Path) -> None:
    text = "projects:\n  - project_hash: 7e3b9c1a-4d2f-4a8e-9b6c-1f0d2e3a4b5c\n    stages: []\n"
    assert _error(tmp_path, text) == "seed.yaml:2: projects[0].title: missing required key 'title'"


def test_an_unknown_key_with_no_close_match_lists_the_allowed_ones(tmp_path: Path) -> None:
    allowed = ", ".join(sorted(SeedSpec.model_fields))  # auth, projects, settings, version, ...
    assert _error(tmp_path, "projects: []\nzzz: 1\n") == f"seed.yaml:2: zzz: unknown key 'zzz' (allowed: {allowed})"


def test_yaml_syntax_error_names_the_file_line_and_column(tmp_path: Path) -> None:
    text = "version: 1\nprojects:\n  - title: x\n   bad: [\n"
    assert _error(tmp_path, text) == (
        "seed.yaml:4:4: YAML syntax error: expected <block end>, but found '<block mapping start>'"
    )


def test_a_missing_seed_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SeedError) as raised:
        load_seed(tmp_path / "nope.yaml")
    assert str(raised.value) == f"cannot read seed {tmp_path / 'nope.yaml'}: No such file or directory"
