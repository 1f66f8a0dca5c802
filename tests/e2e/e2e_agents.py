"""The demo agent plus one planted fault: an image titled `unknown-pathway*` gets a pathway the stage lacks.
`E2E_AGENT_SECONDS` makes every run take that long (a slow model).

Loaded by the functions as RUNNER_TARGET=e2e_agents:runner (tests/e2e is on their PYTHONPATH).
"""

from __future__ import annotations

import os
import time
from typing import Annotated

import numpy as np
from encord.objects.ontology_labels_impl import LabelRowV2
from numpy.typing import NDArray

from examples.demo.agent import DEMO_PROJECT_HASH, PATHWAY_FOR, STAGE, brightness_label, set_brightness
from runner_core import Depends, QueueRunner, TaskAgentReturnStruct
from runner_core.dependencies import dep_single_frame

UNKNOWN_PATHWAY_TITLE = "unknown-pathway"

runner = QueueRunner(project_hash=os.environ.get("DEMO_PROJECT_HASH", DEMO_PROJECT_HASH))


@runner.stage(STAGE)
def pre_label(
    label_row: LabelRowV2,
    frame: Annotated[NDArray[np.uint8], Depends(dep_single_frame)],
) -> TaskAgentReturnStruct:
    time.sleep(float(os.environ.get("E2E_AGENT_SECONDS", "0")))  # a model's inference time, when a test asks
    if (label_row.data_title or "").startswith(UNKNOWN_PATHWAY_TITLE):
        return TaskAgentReturnStruct(pathway="no-such-pathway")
    answer = brightness_label(frame)
    set_brightness(label_row, answer)
    return TaskAgentReturnStruct(pathway=PATHWAY_FOR[answer], label_row=label_row)
