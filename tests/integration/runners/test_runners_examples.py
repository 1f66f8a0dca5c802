"""examples/agents/* through QueueRunner against the emulator: the tasks end in the right stages with the right labels,
priorities and metadata; and the same sources with only their imports switched to encord-agents 0.2.10 give the same
end state (except where encord-agents has a known defect)."""

from __future__ import annotations

import copy
import runpy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from encord.workflow.stages.agent import AgentTask
from encord_agents.core.utils import get_user_client_from_settings

from encord_emulator.testing import run_emulator
from runner_core.client import clear_client_cache
from runner_core.models import TaskCompletionResult
from tests.integration.runners.rc_env import PRE_LABEL, SECOND_LOOK, Env, seed

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "agents"
# runner-core module -> the encord-agents module with the same names (the only difference an example may have).
IMPORTS = {
    "from runner_core import ": "from encord_agents.tasks import ",
    "from runner_core.models import ": "from encord_agents.tasks.models import ",
    "from runner_core.dependencies import ": "from encord_agents.tasks.dependencies import ",
}
DARK_IMAGES = 3


def _seed() -> dict[str, Any]:
    """The runner tests' project, with dark images waiting at pre-label next to the bright ones."""
    data = copy.deepcopy(seed(images=6))
    data["projects"][0]["data"].append(
        {
            "type": "image",
            "title": "dark-{i:02d}.png",
            "count": DARK_IMAGES,
            "stage": PRE_LABEL,
            "generate": {"width": 16, "height": 12, "brightness": "dark", "seed": 3},
        }
    )
    return data


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """The examples read their credentials from the environment, as encord-agents' documented agents do."""
    with run_emulator(_seed()) as emu:
        monkeypatch.setenv("ENCORD_SSH_KEY", emu.ssh_key)
        monkeypatch.setenv("ENCORD_DOMAIN", emu.url)
        monkeypatch.delenv("ENCORD_SSH_KEY_FILE", raising=False)
        clear_client_cache()
        get_user_client_from_settings.cache_clear()
        yield Env(emu=emu, client=emu.client())
        clear_client_cache()
        get_user_client_from_settings.cache_clear()


def _load(name: str, *, encord_agents: bool = False) -> dict[str, Any]:
    """Run the example module fresh (a new runner per test); optionally with its imports switched."""
    path = EXAMPLES / f"{name}.py"
    if not encord_agents:
        return runpy.run_path(str(path), run_name=f"example_{name}")
    source = path.read_text(encoding="utf-8")
    for ours, theirs in IMPORTS.items():
        source = source.replace(ours, theirs)
    assert "runner_core" not in source, "an example differs from encord-agents style beyond its imports"
    namespace: dict[str, Any] = {"__name__": f"reference_{name}", "__file__": str(path)}
    exec(compile(source, str(path), "exec"), namespace)  # our own example, with its imports switched
    return namespace


def _drain(module: dict[str, Any], function: str) -> list[TaskCompletionResult]:
    """The documented queue loop: list the agent stages' tasks, hand each one's JSON to the wrapped function."""
    wrapped: Callable[[str], str] = module[function]
    queue = [task.model_dump_json() for stage in module["runner"].get_agent_stages() for task in stage.get_tasks()]
    return [TaskCompletionResult.model_validate_json(wrapped(message)) for message in queue]


def _state(env: Env, tasks: list[AgentTask]) -> list[tuple[str, list[str], float | None, Any]]:
    project = env.client.get_project(env.project_hash)
    rows = project.list_label_rows_v2(data_hashes=[t.data_hash for t in tasks])
    items = {row.data_hash: str(row.backing_item_uuid) for row in rows}
    return [
        (
            env.where(t),
            env.answers(t),
            env.emu.state.priority(t.data_hash),
            env.emu.state.client_metadata(items[str(t.data_hash)]).get("second_look"),
        )
        for t in tasks
    ]


def _compare_with_encord_agents(env: Env, name: str, tasks: list[AgentTask]) -> None:
    ours = _state(env, tasks)
    env.emu.reset_state()
    _drain(_load(name, encord_agents=True), name)
    assert _state(env, tasks) == ours


def test_route_by_name(env: Env) -> None:
    tasks = env.tasks(PRE_LABEL)
    results = _drain(_load("route_by_name"), "route_by_name")
    assert len(results) == len(tasks) == 6 + DARK_IMAGES
    assert all(r.success is True for r in results)
    for task in tasks:
        control = task.data_title.removesuffix(".png").endswith("0")
        assert env.where(task) == ("Complete" if control else "Annotate"), task.data_title
    assert {env.where(t) for t in tasks} == {"Complete", "Annotate"}
    _compare_with_encord_agents(env, "route_by_name", tasks)


def test_label_and_prioritise(env: Env) -> None:
    tasks = env.tasks(PRE_LABEL)
    results = _drain(_load("label_and_prioritise"), "label_and_prioritise")
    assert all(r.success is True for r in results)
    for task in tasks:
        dark = task.data_title.startswith("dark-")
        priority = env.emu.state.priority(task.data_hash)
        assert priority is not None
        assert env.where(task) == "Annotate"
        assert env.answers(task) == (["dark"] if dark else ["bright"]), task.data_title
        assert (priority > 0.5) if dark else (priority < 0.5), (task.data_title, priority)
    _compare_with_encord_agents(env, "label_and_prioritise", tasks)


def test_tag_storage_item(env: Env) -> None:
    tasks = env.tasks(SECOND_LOOK)
    accept = next(p for p in env.stage(SECOND_LOOK).pathways if p.name == "accept")
    results = _drain(_load("tag_storage_item"), "tag_storage_item")
    assert [r.pathway for r in results] == [accept.uuid] * len(tasks)  # returned by uuid, reported by uuid
    state = _state(env, tasks)
    assert [where for where, _, _, _ in state] == ["Complete"] * len(tasks)
    assert [meta for _, _, _, meta in state] == [{"decision": "accept", "task": str(t.uuid)} for t in tasks]
    assert env.tasks(PRE_LABEL)  # the other stage was not touched
    _compare_with_encord_agents(env, "tag_storage_item", tasks)


def test_prioritise_only(env: Env) -> None:
    tasks = env.tasks(PRE_LABEL)
    results = _drain(_load("prioritise_only"), "prioritise_only")
    assert all(r.success is True and r.pathway is None for r in results)
    assert [r.results[0].outcome.value for r in results] == ["held"] * len(tasks)
    for task in tasks:
        assert env.where(task) == PRE_LABEL
        assert env.emu.state.priority(task.data_hash) == (1.0 if "dark" in task.data_title else 0.0)
    # encord-agents 0.2.10 drops will_set_priority in its QueueRunner (the tasks that set a priority fail) and
    # ignores a priority of 0.0: the same source sets no priority at all there.
    env.emu.reset_state()
    theirs = _drain(_load("prioritise_only", encord_agents=True), "prioritise_only")
    assert sum(not r.success for r in theirs) == DARK_IMAGES
    assert {env.emu.state.priority(t.data_hash) for t in tasks} == {0.5}
