"""The demo agent: a small computer-vision rule on the first frame of every data unit.

It measures the mean brightness (Rec. 601 luma) of the frame `dep_single_frame` decodes, records the answer in the
`brightness` radio classification of the demo ontology (examples/demo/project.yaml), and routes the task:
bright frames go to people (`annotate`), frames too dark to label are completed (`skip`).

Deploy it with `RUNNER_TARGET=examples.demo.agent:runner`. The project is the demo project unless
`DEMO_PROJECT_HASH` names another one with the same ontology and stage.
"""

from __future__ import annotations

import os
from typing import Annotated

import numpy as np
from encord.objects.classification import Classification
from encord.objects.ontology_labels_impl import LabelRowV2
from encord.objects.options import Option
from numpy.typing import NDArray

from runner_core import Depends, QueueRunner, TaskAgentReturnStruct
from runner_core.dependencies import dep_single_frame

DEMO_PROJECT_HASH = "7e3b9c1a-4d2f-4a8e-9b6c-1f0d2e3a4b5c"
STAGE = "pre-label"
CLASSIFICATION = "brightness"
# Mean luma (0..255) at or above which a frame counts as bright enough for a person to label.
BRIGHT_THRESHOLD = float(os.environ.get("DEMO_BRIGHT_THRESHOLD", "125"))
PATHWAY_FOR = {"bright": "annotate", "dark": "skip"}

runner = QueueRunner(project_hash=os.environ.get("DEMO_PROJECT_HASH", DEMO_PROJECT_HASH))


def mean_luma(frame: NDArray[np.uint8]) -> float:
    """Mean Rec. 601 luma of an RGB frame of shape (h, w, 3)."""
    if frame.ndim != 3 or frame.shape[2] < 3:
        raise ValueError(f"expected an RGB frame (h, w, 3), got shape {frame.shape}")
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float64)
    return float((frame[..., :3].astype(np.float64) @ weights).mean())


def brightness_label(frame: NDArray[np.uint8], *, threshold: float = BRIGHT_THRESHOLD) -> str:
    return "bright" if mean_luma(frame) >= threshold else "dark"


def set_brightness(label_row: LabelRowV2, answer: str) -> None:
    """Put `answer` in the brightness classification, replacing any earlier answer (a redelivered task stays at one
    instance)."""
    classification = label_row.ontology_structure.get_child_by_title(CLASSIFICATION, type_=Classification)
    for existing in label_row.get_classification_instances(filter_ontology_classification=classification):
        label_row.remove_classification(existing)
    option = classification.get_child_by_title(answer, type_=Option)
    instance = classification.create_instance()
    instance.set_answer(option)
    instance.set_for_frames(0)
    label_row.add_classification_instance(instance)


@runner.stage(STAGE)
def pre_label(
    label_row: LabelRowV2,
    frame: Annotated[NDArray[np.uint8], Depends(dep_single_frame)],
) -> TaskAgentReturnStruct:
    answer = brightness_label(frame)
    set_brightness(label_row, answer)
    return TaskAgentReturnStruct(pathway=PATHWAY_FOR[answer], label_row=label_row)
