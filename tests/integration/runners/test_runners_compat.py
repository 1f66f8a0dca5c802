"""The same encord-agents-style agent under encord-agents 0.2.10 and runner-core: only the imports differ, the
tasks end in the same stages with the same labels, and the answers parse with encord-agents' own model."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from encord.objects.ontology_labels_impl import LabelRowV2
from encord.storage import StorageItem
from encord_agents.core.utils import get_user_client_from_settings
from encord_agents.tasks import QueueRunner as AgentsQueueRunner
from encord_agents.tasks.models import TaskAgentReturnStruct as AgentsReturnStruct
from encord_agents.tasks.models import TaskCompletionResult as AgentsCompletionResult

from runner_core import QueueRunner, TaskAgentReturnStruct
from tests.integration.runners.rc_env import PRE_LABEL, Env, add_brightness


@pytest.fixture
def agents_env(env: Env, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setenv("ENCORD_SSH_KEY", env.emu.ssh_key)
    monkeypatch.setenv("ENCORD_DOMAIN", env.emu.url)
    monkeypatch.delenv("ENCORD_SSH_KEY_FILE", raising=False)
    get_user_client_from_settings.cache_clear()
    yield env
    get_user_client_from_settings.cache_clear()


def _define(runner: Any, struct: Callable[..., Any]) -> Callable[[str | list[str]], str]:
    """The documented agent, written once: label the row, rank it, route on its title."""

    def pre_label(lr: LabelRowV2, storage_item: StorageItem) -> Any:
        bright = not storage_item.name.endswith("3.png")
        add_brightness(lr, "bright" if bright else "dark")
        return struct(pathway="annotate" if bright else "skip", label_row=lr, label_row_priority=0.75)

    wrapped: Callable[[str | list[str]], str] = runner.stage(PRE_LABEL)(pre_label)
    return wrapped


def test_same_agent_same_outcome_under_both_runners(agents_env: Env) -> None:
    env = agents_env
    tasks = sorted(env.tasks()[:6], key=lambda t: t.data_title)
    bodies = [t.model_dump_json() for t in tasks]

    theirs = _define(AgentsQueueRunner(project_hash=env.project_hash), AgentsReturnStruct)
    their_result = AgentsCompletionResult.model_validate_json(theirs(bodies))
    theirs_final = [(env.where(t), env.answers(t), env.emu.state.priority(t.data_hash)) for t in tasks]

    env.emu.reset_state()
    ours = _define(QueueRunner(project_hash=env.project_hash), TaskAgentReturnStruct)  # env settings, as theirs
    our_raw = ours(bodies)
    our_result = AgentsCompletionResult.model_validate_json(our_raw)  # encord-agents' model reads our answer
    ours_final = [(env.where(t), env.answers(t), env.emu.state.priority(t.data_hash)) for t in tasks]

    assert ours_final == theirs_final
    assert {s for s, _, _ in ours_final} == {"Annotate", "Complete"}
    assert our_result.task_uuid == their_result.task_uuid
    assert sorted(map(str, our_result.success)) == sorted(map(str, their_result.success))  # type: ignore[arg-type]
    assert sorted(map(str, our_result.pathway)) == sorted(map(str, their_result.pathway))  # type: ignore[arg-type]
    single = AgentsCompletionResult.model_validate_json(ours(bodies[0]))
    assert single.success is True  # already moved: skipped, which is a success here (encord-agents said False)
