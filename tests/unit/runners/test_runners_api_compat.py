"""The public API keeps encord-agents 0.2.10's names, parameters, defaults and models (checked against the package)."""

from __future__ import annotations

import dataclasses
import inspect
import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import encord_agents.tasks as agents
import encord_agents.tasks.models as agents_models
import pytest
from encord_agents.core import data_model as agents_data_model
from pydantic import ValidationError

import runner_core
from runner_core import models
from runner_core.di import DependencyDefinitionError, DIError
from runner_core.runners.sequential import SequentialRunner


def _parameters(call: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(call).parameters.values()]


@pytest.mark.parametrize(
    ("theirs", "ours"),
    [
        (agents.QueueRunner.__init__, runner_core.QueueRunner.__init__),
        (agents.QueueRunner.stage, runner_core.QueueRunner.stage),
        (agents.QueueRunner.get_agent_stages, runner_core.QueueRunner.get_agent_stages),
        (agents.Runner.__init__, SequentialRunner.__init__),
        (agents.Runner.stage, SequentialRunner.stage),
        (agents.Runner.__call__, SequentialRunner.__call__),
        (agents.Runner.run_stage, SequentialRunner.run_stage),
    ],
)
def test_every_reference_parameter_exists_with_its_kind_and_default(
    theirs: Callable[..., Any], ours: Callable[..., Any]
) -> None:
    mine = {name: (kind, default) for name, kind, default in _parameters(ours)}
    for name, kind, default in _parameters(theirs):
        assert name in mine, f"{ours.__qualname__} lacks {name!r}"
        assert mine[name][0] == kind, name
        assert mine[name][1] == default, name
    positional = [n for n, k, _ in _parameters(theirs) if k is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert [n for n, k, _ in _parameters(ours) if k is inspect.Parameter.POSITIONAL_OR_KEYWORD] == positional


def test_runner_is_the_sequential_runner() -> None:
    assert runner_core.Runner is runner_core.SequentialRunner is SequentialRunner


def test_return_struct_has_the_reference_fields() -> None:
    theirs = [(f.name, f.default) for f in dataclasses.fields(agents_models.TaskAgentReturnStruct)]
    ours = [(f.name, f.default) for f in dataclasses.fields(models.TaskAgentReturnStruct)]
    assert ours == theirs


@pytest.mark.parametrize(
    ("theirs", "ours"),
    [
        (agents_data_model.LabelRowMetadataIncludeArgs, models.LabelRowMetadataIncludeArgs),
        (agents_data_model.LabelRowInitialiseLabelsArgs, models.LabelRowInitialiseLabelsArgs),
    ],
)
def test_fetch_argument_models_dump_what_the_reference_dumps(theirs: Any, ours: Any) -> None:
    assert ours().model_dump() == theirs().model_dump()
    assert list(ours.model_fields) == list(theirs.model_fields)


def test_branch_selectors_are_exclusive_as_in_the_reference() -> None:
    with pytest.raises(ValidationError, match="branch_name"):
        models.LabelRowMetadataIncludeArgs(branch_name="review", include_all_label_branches=True)
    with pytest.raises(ValidationError):
        agents_data_model.LabelRowMetadataIncludeArgs(branch_name="review", include_all_label_branches=True)
    # An empty branch name means "unset" in both.
    ours = models.LabelRowMetadataIncludeArgs(branch_name="", include_all_label_branches=True)
    theirs = agents_data_model.LabelRowMetadataIncludeArgs(branch_name="", include_all_label_branches=True)
    assert ours.model_dump() == theirs.model_dump()
    assert models.LabelRowMetadataIncludeArgs(branch_name="review").branch_name == "review"


def test_agent_task_config_reads_an_agent_task_dump() -> None:
    dump = {
        "uuid": str(uuid.uuid4()),
        "created_at": "2026-01-01T00:00:00",
        "updated_at": "2026-01-01T00:00:00",
        "status": "NEW",
        "data_hash": str(uuid.uuid4()),
        "data_title": "img-001.png",
        "label_branch_name": "main",
        "assignee": None,
        "last_actioned_by": None,
    }
    ours = models.AgentTaskConfig.model_validate_json(json.dumps(dump))
    theirs = agents_models.AgentTaskConfig.model_validate_json(json.dumps(dump))
    assert ours.model_dump() == theirs.model_dump()
    assert str(ours.task_uuid) == dump["uuid"]
    with pytest.raises(ValidationError):
        models.AgentTaskConfig.model_validate({"uuid": "not-a-uuid", "data_hash": dump["data_hash"]})


def test_completion_results_read_each_other() -> None:
    task, stage, pathway = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    theirs = agents_models.TaskCompletionResult(task_uuid=task, stage_uuid=stage, success=True, pathway=pathway)
    ours = models.TaskCompletionResult.model_validate_json(theirs.model_dump_json())
    assert (ours.task_uuid, ours.stage_uuid, ours.success, ours.pathway) == (task, stage, True, pathway)
    back = agents_models.TaskCompletionResult.model_validate_json(ours.model_dump_json())
    assert back == theirs


def test_every_runner_core_error_shares_one_base() -> None:
    assert issubclass(DIError, runner_core.RunnerCoreError)
    assert issubclass(DependencyDefinitionError, runner_core.RunnerCoreError)
    assert issubclass(DependencyDefinitionError, TypeError)  # still what a bad signature raises in Python terms


def test_an_agent_module_imports_none_of_the_heavy_parts() -> None:
    """A module defining a QueueRunner loads no asyncio, media (PyAV), CLI (typer/rich) or settings code."""
    code = (
        "import sys\n"
        "import encord.user_client\n"
        "before = set(sys.modules)\n"
        "from encord.workflow.stages.agent import AgentTask\n"
        "from runner_core import QueueRunner\n"
        "runner = QueueRunner(project_hash='5a1e0000-0000-4000-8000-000000000001')\n"
        "@runner.stage('a')\n"
        "def a(task: AgentTask) -> str:\n"
        "    return 'x'\n"
        "@runner.stage('b')\n"
        "def b(task: AgentTask) -> str:\n"
        "    return 'x'\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    root = Path(__file__).resolve().parents[3]
    run = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=root)
    loaded = set(run.stdout.split())
    assert "runner_core.runners.queue" in loaded
    heavy = {"asyncio", "av", "runner_core.media", "runner_core.di.solver", "typer", "rich", "pydantic_settings"}
    assert not heavy & loaded, heavy & loaded
