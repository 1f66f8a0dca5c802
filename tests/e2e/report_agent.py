"""The report test's agent (not the demo's): a box, a classification, a priority and a route per task, one planted
failure. Loaded by the functions as RUNNER_TARGET=report_agent:runner (tests/e2e is on their PYTHONPATH)."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from encord.objects.classification import Classification
from encord.objects.coordinates import BoundingBoxCoordinates
from encord.objects.ontology_labels_impl import LabelRowV2
from encord.objects.ontology_object import Object
from encord.objects.options import Option
from numpy.typing import NDArray

from runner_core import Depends, QueueRunner, TaskAgentReturnStruct
from runner_core.dependencies import dep_single_frame

PROJECT_HASH = "3c0ffee0-0000-4000-8000-00000000d15c"
PLANTED_FAILURE = "broken.png"
PLANTED_ERROR = "planted failure: this frame cannot be triaged"
# Where the box goes: the left half for light frames, the right half for dark ones (the test checks the drawing).
BOX = {"good": (0.1, 0.2, 0.3, 0.5), "poor": (0.6, 0.2, 0.3, 0.5)}
PATHWAY = {"good": "review", "poor": "archive"}
PRIORITY = {"good": 0.9, "poor": 0.2}

runner = QueueRunner(project_hash=PROJECT_HASH)


@runner.stage("triage")
def triage(
    label_row: LabelRowV2, frame: Annotated[NDArray[np.uint8], Depends(dep_single_frame)]
) -> TaskAgentReturnStruct:
    if label_row.data_title == PLANTED_FAILURE:
        raise ValueError(PLANTED_ERROR)
    quality = "good" if float(frame.mean()) >= 110 else "poor"
    ontology = label_row.ontology_structure
    classification = ontology.get_child_by_title("quality", type_=Classification)
    answer = classification.create_instance()
    answer.set_answer(classification.get_child_by_title(quality, type_=Option))
    answer.set_for_frames(0)
    label_row.add_classification_instance(answer)
    x, y, w, h = BOX[quality]
    region = ontology.get_child_by_title("Region", type_=Object).create_instance()
    region.set_for_frames(BoundingBoxCoordinates(top_left_x=x, top_left_y=y, width=w, height=h), frames=0)
    label_row.add_object_instance(region)
    return TaskAgentReturnStruct(pathway=PATHWAY[quality], label_row=label_row, label_row_priority=PRIORITY[quality])
