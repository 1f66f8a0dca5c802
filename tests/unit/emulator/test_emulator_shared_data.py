"""`data_from` (projects sharing a dataset) and per-project key restrictions in the seed."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from encord_emulator.auth import Authenticator, generate_private_key, public_hex_of
from encord_emulator.build import build_state
from encord_emulator.errors import NotAuthorised, SeedError
from encord_emulator.seed import derived_uuid, load_seed
from encord_emulator.testing import DEMO_SEED

A = "00000000-0000-4000-8000-00000000000a"
B = "00000000-0000-4000-8000-00000000000b"
C = "00000000-0000-4000-8000-00000000000c"


def _project(project_hash: str, **extra: Any) -> dict[str, Any]:
    return {
        "project_hash": project_hash,
        "title": f"p-{project_hash[-1]}",
        "stages": [
            {"title": "agent", "type": "agent", "pathways": {"go": "done"}},
            {"title": "review", "type": "review"},
            {"title": "done", "type": "done"},
        ],
        **extra,
    }


_DATA = [{"type": "image", "title": "img-{i}.png", "count": 3, "generate": {"width": 8, "height": 8}}]


def test_data_from_shares_data_hashes_items_and_dataset_but_not_tasks(tmp_path: Path) -> None:
    # C is listed first and chains through B to A: the build order must not depend on the seed order.
    seed = {
        "projects": [
            _project(C, data_from=B),
            _project(A, data=_DATA, dataset_title="shared"),
            _project(B, data_from={"project": A, "stage": "review", "status": "RELEASED"}),
        ]
    }
    spec, root = load_seed(seed)
    state = build_state(spec.projects, root=root, cache_dir=tmp_path)
    assert [str(h) for h in state.projects] == [C, A, B]  # seed order kept
    a, b, c = (state.projects[UUID(h)] for h in (A, B, C))
    assert list(b.rows) == list(a.rows) == list(c.rows)
    assert len(state.items) == 3  # shared, not copied
    assert a.dataset_hash == b.dataset_hash == c.dataset_hash
    assert b.dataset_title == c.dataset_title == "shared"
    assert not set(a.tasks) & set(b.tasks)
    assert not set(b.tasks) & set(c.tasks)
    for data_hash, row in b.rows.items():
        assert row.title == a.rows[data_hash].title
        assert row.item_uuid == data_hash
        assert b.stage(row.stage_uuid) is b.stage_by_title("review")
        assert row.task_status == "RELEASED"
        assert c.stage(c.rows[data_hash].stage_uuid) is c.stage_by_title("agent")  # default: the first stage


def test_demo_seed_ids_are_unchanged(tmp_path: Path) -> None:
    spec, root = load_seed(DEMO_SEED)
    (project,) = build_state(spec.projects, root=root, cache_dir=tmp_path).projects.values()
    ph = project.project_hash
    assert project.dataset_hash == derived_uuid(ph, "dataset")
    first = next(iter(project.rows.values()))
    assert first.data_hash == derived_uuid(ph, "data", first.title, 0)
    assert first.task_uuid == derived_uuid(ph, "task", first.data_hash)


@pytest.mark.parametrize(
    ("projects", "message"),
    [
        ([_project(A, data_from=C)], "data_from: no project"),
        ([_project(A, data_from=A)], "names the project itself"),
        ([_project(A, data_from=B), _project(B, data_from=A)], "cycle"),
        ([_project(A, data=_DATA), _project(B, data_from=A, data=_DATA)], "takes no `data`"),
        ([_project(A), _project(B, data_from=A, dataset_title="x")], "takes no `data`"),
        ([_project(A), _project(B, data_from={"project": A, "stage": "nope"})], "no stage titled 'nope'"),
    ],
)
def test_invalid_data_from_is_rejected(projects: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(SeedError, match=message):
        load_seed({"projects": projects})


def test_auth_entries_may_restrict_and_must_name_known_projects() -> None:
    key = public_hex_of(generate_private_key())
    spec, _ = load_seed(
        {
            "auth": {
                "public_keys": [key, {"key": key, "projects": [A]}],
                "bearer_tokens": ["t", {"token": "u", "projects": []}],
            },
            "projects": [_project(A)],
        }
    )
    assert spec.auth.key_grants() == [(key, None), (key, [UUID(A)])]
    assert spec.auth.token_grants() == [("t", None), ("u", [])]
    secret = "a-secret-token-value"
    with pytest.raises(SeedError, match="unknown projects") as raised:
        load_seed({"auth": {"bearer_tokens": [{"token": secret, "projects": [B]}]}, "projects": [_project(A)]})
    assert secret not in str(raised.value)


def test_authenticator_restricts_keys_and_tokens_per_project() -> None:
    free, limited = public_hex_of(generate_private_key()), public_hex_of(generate_private_key())
    auth = Authenticator.create(
        public_keys=[free],
        bearer_tokens=["open"],
        verify=True,
        restricted_keys=[(limited, [UUID(A)])],
        restricted_tokens=[("narrow", [])],
    )
    project_a, project_b = UUID(A), UUID(B)
    for principal in (f"key:{free}", "token:open", None):
        auth.check_project(principal, project_b)
    auth.check_project(f"key:{limited}", project_a)
    with pytest.raises(NotAuthorised, match=f"project {B}") as raised:
        auth.check_project(f"key:{limited}", project_b)
    assert (raised.value.status, raised.value.legacy_code) == (403, "AUTHORISATION_ERROR")
    with pytest.raises(NotAuthorised):
        auth.check_project("token:narrow", project_a)
    assert auth.check_legacy({"Authorization": "Bearer narrow"}, b"") == "token:narrow"
    assert auth.allowed_projects(f"key:{limited}") == frozenset({project_a})
    assert auth.allowed_projects(f"key:{free}") is None
