"""Shared pieces of the runner tests: the test project's seed, an `Env` wrapper and encord-agents-style helpers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from encord.objects.classification import Classification
from encord.objects.ontology_labels_impl import LabelRowV2
from encord.objects.options import Option
from encord.user_client import EncordUserClient
from encord.workflow.stages.agent import AgentStage, AgentTask

from encord_emulator.testing import RunningEmulator
from runner_core import TaskCompletionResult
from runner_core.messages import encode_envelope

PROJECT_HASH = "5a1e0000-0000-4000-8000-000000000001"
PRE_LABEL = "pre-label"
SECOND_LOOK = "second-look"


def seed(images: int = 12, second_look_images: int = 3) -> dict[str, Any]:
    """Images waiting at `pre-label` (pathways annotate/skip) and at `second-look` (pathways accept/redo)."""
    return {
        "version": 1,
        "projects": [
            {
                "project_hash": PROJECT_HASH,
                "title": "runner tests",
                "ontology": {
                    "objects": [{"name": "Box", "shape": "bounding_box"}],
                    "classifications": [{"name": "brightness", "type": "radio", "options": ["bright", "dark"]}],
                },
                "stages": [
                    {"title": PRE_LABEL, "type": "agent", "pathways": {"annotate": "Annotate", "skip": "Complete"}},
                    {"title": SECOND_LOOK, "type": "agent", "pathways": {"accept": "Complete", "redo": "Annotate"}},
                    {"title": "Annotate", "type": "annotation"},
                    {"title": "Complete", "type": "done"},
                ],
                "data": [
                    {
                        "type": "image",
                        "title": "img-{i:03d}.png",
                        "count": images,
                        "stage": PRE_LABEL,
                        "generate": {"width": 16, "height": 12, "brightness": "bright", "seed": 1},
                    },
                    {
                        "type": "image",
                        "title": "again-{i:02d}.png",
                        "count": second_look_images,
                        "stage": SECOND_LOOK,
                        "generate": {"width": 16, "height": 12, "brightness": "dark", "seed": 2},
                    },
                ],
            }
        ],
    }


@dataclass
class Env:
    """An emulator with the test project, a real SDK client and shortcuts to read what happened."""

    emu: RunningEmulator
    client: EncordUserClient

    @property
    def project_hash(self) -> str:
        return PROJECT_HASH

    def stage(self, title: str = PRE_LABEL) -> AgentStage:
        project = self.client.get_project(PROJECT_HASH)
        return project.workflow.get_stage(name=title, type_=AgentStage)

    def tasks(self, title: str = PRE_LABEL) -> list[AgentTask]:
        return list(self.stage(title).get_tasks())

    def envelope(self, tasks: list[AgentTask], stage: str = PRE_LABEL) -> str:
        """A queue message body carrying `tasks` for the agent of `stage`."""
        return encode_envelope(project_hash=self.project_hash, stage_uuid=self.stage(stage).uuid, tasks=tasks)

    def where(self, task: AgentTask) -> str:
        return self.emu.state.task_stage(task.uuid)

    def answers(self, task: AgentTask) -> list[str]:
        """The brightness answers saved in the task's label blob."""
        blob = self.emu.state.label_blob(task.data_hash)
        if blob is None:
            return []
        found: list[str] = []
        for classification in blob.get("classification_answers", {}).values():
            for entry in classification.get("classifications", []):
                found.extend(answer["value"] for answer in entry.get("answers", []))
        return found


EnvFactory = Callable[..., Env]


def completion_result(raw: str) -> TaskCompletionResult:
    """Parse what a queue-wrapped agent returns (TaskCompletionResult JSON)."""
    return TaskCompletionResult.model_validate_json(raw)


def add_brightness(label_row: LabelRowV2, answer: str) -> None:
    classification = label_row.ontology_structure.get_child_by_title("brightness", type_=Classification)
    for existing in label_row.get_classification_instances(filter_ontology_classification=classification):
        label_row.remove_classification(existing)
    instance = classification.create_instance()
    instance.set_answer(classification.get_child_by_title(answer, type_=Option))
    instance.set_for_frames(0)
    label_row.add_classification_instance(instance)
