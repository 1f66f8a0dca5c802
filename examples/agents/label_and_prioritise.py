"""Pre-label the first frame and rank the task, returning a `TaskAgentReturnStruct` with a label row and a priority.

The frame's brightness goes into the `brightness` classification; dark frames are harder to annotate, so they get
the higher priority and reach people first.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from encord.objects.classification import Classification
from encord.objects.ontology_labels_impl import LabelRowV2
from encord.objects.options import Option
from numpy.typing import NDArray

from runner_core import Depends, QueueRunner
from runner_core.dependencies import dep_single_frame
from runner_core.models import TaskAgentReturnStruct, TaskCompletionResult

runner = QueueRunner(project_hash="5a1e0000-0000-4000-8000-000000000001")


@runner.stage("pre-label")
def label_and_prioritise(
    lr: LabelRowV2,
    frame: Annotated[NDArray[np.uint8], Depends(dep_single_frame)],
) -> TaskAgentReturnStruct:
    darkness = 1.0 - float(frame.mean()) / 255.0
    answer = "dark" if darkness > 0.5 else "bright"

    brightness = lr.ontology_structure.get_child_by_title("brightness", type_=Classification)
    instance = brightness.create_instance()
    instance.set_answer(brightness.get_child_by_title(answer, type_=Option))
    instance.set_for_frames(0)
    lr.add_classification_instance(instance)

    return TaskAgentReturnStruct(pathway="annotate", label_row=lr, label_row_priority=round(darkness, 2))


if __name__ == "__main__":
    queue = [task.model_dump_json() for stage in runner.get_agent_stages() for task in stage.get_tasks()]
    for message in queue:
        print(TaskCompletionResult.model_validate_json(label_and_prioritise(message)))
