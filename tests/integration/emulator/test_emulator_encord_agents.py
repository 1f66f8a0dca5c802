"""encord-agents 0.2.10, a third-party client, runs its runners against the emulator: a fidelity check."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import numpy as np
import pytest
from encord.objects import Classification, LabelRowV2
from encord.workflow.stages.agent import AgentTask
from encord_agents.core.dependencies import Depends
from encord_agents.core.utils import get_user_client_from_settings
from encord_agents.tasks import QueueRunner, SequentialRunner
from encord_agents.tasks.dependencies import dep_single_frame
from encord_agents.tasks.models import TaskCompletionResult
from numpy.typing import NDArray

from encord_emulator.testing import RunningEmulator


@pytest.fixture
def agents_env(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningEmulator]:
    """encord-agents reads its key and domain from the environment and caches the client: isolate both."""
    monkeypatch.setenv("ENCORD_SSH_KEY", emulator.ssh_key)
    monkeypatch.setenv("ENCORD_DOMAIN", emulator.url)
    monkeypatch.delenv("ENCORD_SSH_KEY_FILE", raising=False)
    get_user_client_from_settings.cache_clear()
    yield emulator
    get_user_client_from_settings.cache_clear()


def _brightness_answer(label_row: LabelRowV2, frame: NDArray[np.uint8]) -> str:
    ontology = label_row.ontology_structure
    brightness = ontology.get_child_by_title("brightness", type_=Classification)
    verdict = "bright" if float(frame.mean()) > 127 else "dark"
    option = next(o for o in brightness.attributes[0].options if o.label == verdict)
    instance = brightness.create_instance()
    instance.set_answer(option)
    instance.set_for_frames(0)
    label_row.add_classification_instance(instance)
    return verdict


def test_sequential_runner_drains_pre_label(agents_env: RunningEmulator) -> None:
    emulator = agents_env
    runner = SequentialRunner(project_hash=emulator.project_hash)
    verdicts: dict[str, str] = {}

    @runner.stage("pre-label")
    def classify(label_row: LabelRowV2, frame: Annotated[NDArray[np.uint8], Depends(dep_single_frame)]) -> str:
        assert frame.shape == (240, 320, 3)
        verdicts[label_row.data_title] = _brightness_answer(label_row, frame)
        label_row.save()
        return "annotate"

    runner.run_stage("pre-label")

    assert len(verdicts) == 28
    assert all(verdicts[f"bright-{i:02d}.png"] == "bright" for i in range(12))
    assert all(verdicts[f"dark-{i:02d}.png"] == "dark" for i in range(12))
    assert emulator.state.tasks_in_stage(emulator.project_hash, "pre-label") == []
    assert len(emulator.state.tasks_in_stage(emulator.project_hash, "Annotate")) == 28
    assert emulator.requests("/files") >= 28  # every agent got real media


def test_queue_runner_producer_consumer_round(agents_env: RunningEmulator) -> None:
    emulator = agents_env
    runner = QueueRunner(project_hash=emulator.project_hash)
    seen: list[str] = []

    @runner.stage("pre-label")
    def route(task: AgentTask, label_row: LabelRowV2) -> str:
        seen.append(task.data_title)
        return "skip" if label_row.data_type.value == "video" else "annotate"

    # Producer: what a queue would carry, one message per task.
    messages = [task.model_dump_json() for stage in runner.get_agent_stages() for task in stage.get_tasks()]
    assert len(messages) == 28

    # Consumer: one message alone, then the rest as a batch.
    first = TaskCompletionResult.model_validate_json(route(messages[0]))
    assert first.success is True
    batch = TaskCompletionResult.model_validate_json(route(messages[1:]))
    # For a batch, encord-agents reports the uuids of the tasks that succeeded.
    assert isinstance(batch.success, list)
    assert isinstance(batch.task_uuid, list)
    assert len(batch.task_uuid) == 27
    assert set(batch.success) == set(batch.task_uuid)
    assert len(seen) == 28
    assert len(emulator.state.tasks_in_stage(emulator.project_hash, "Complete")) == 3
    assert len(emulator.state.tasks_in_stage(emulator.project_hash, "Annotate")) == 25

    # A late redelivery finds the task gone from the stage: no agent call, no move.
    calls = len(seen)
    again = TaskCompletionResult.model_validate_json(route(messages[0]))
    assert again.success is False
    assert len(seen) == calls
