from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import pytest
from encord.user_client import EncordUserClient

from functions import target
from functions.errors import TargetLoadError


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    target.clear_cache()
    yield
    target.clear_cache()


class _Runnerish:
    project_hash = "00000000-0000-4000-8000-000000000001"

    def use_client(self, client: EncordUserClient) -> None:
        raise AssertionError("no secret-store key in these tests")

    def process(self) -> None: ...

    def get_agent_stages(self) -> list[object]:
        return []


@pytest.fixture
def user_module(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("fn_target_user_agents")
    module.runner = _Runnerish()  # type: ignore[attr-defined]
    module.not_a_runner = 42  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module


def test_loads_once_and_caches(user_module: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNNER_TARGET", "fn_target_user_agents:runner")
    first = target.load_runner()
    assert first is user_module.runner
    user_module.runner = _Runnerish()  # type: ignore[attr-defined]
    assert target.load_runner() is first  # once per instance


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "RUNNER_TARGET is not set"),
        ("no_colon", "not of the form 'package.module:attr'"),
        (":runner", "not of the form"),
        ("fn_target_missing_module:runner", "module 'fn_target_missing_module' was not found"),
        ("fn_target_user_agents:missing", "has no attribute 'missing'"),
        ("fn_target_user_agents:not_a_runner", "is a int, not a QueueRunner"),
    ],
)
def test_clear_errors(user_module: types.ModuleType, spec: str, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNNER_TARGET", spec)
    with pytest.raises(TargetLoadError, match=message):
        target.load_runner()


def test_missing_dependency_of_the_user_module_is_named(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("fn_target_broken")
    monkeypatch.setitem(sys.modules, "fn_target_broken", module)

    def boom(name: str) -> types.ModuleType:
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr("functions.target.importlib.import_module", boom)
    with pytest.raises(TargetLoadError, match="needs 'torch'"):
        target.load_runner("fn_target_broken:runner")
