"""The demo agent, broken until a flag file exists: the "model" it needs is missing (an ordinary exception, so a
retryable failure), which fills the dead-letter queue; creating `$AGENT_FIXED_FLAG` is the fix.

Loaded by the functions as RUNNER_TARGET=dlq_agents:runner (tests/e2e is on their PYTHONPATH).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import numpy as np
from encord.objects.ontology_labels_impl import LabelRowV2
from numpy.typing import NDArray

from examples.demo.agent import DEMO_PROJECT_HASH, PATHWAY_FOR, STAGE, brightness_label, set_brightness
from runner_core import Depends, QueueRunner, TaskAgentReturnStruct
from runner_core.dependencies import dep_single_frame

FIXED_FLAG_ENV = "AGENT_FIXED_FLAG"
BROKEN_REASON = "model weights not found"

runner = QueueRunner(project_hash=os.environ.get("DEMO_PROJECT_HASH", DEMO_PROJECT_HASH))


class ModelMissingError(RuntimeError):
    """The planted fault."""


@runner.stage(STAGE)
def pre_label(
    label_row: LabelRowV2,
    frame: Annotated[NDArray[np.uint8], Depends(dep_single_frame)],
) -> TaskAgentReturnStruct:
    if not Path(os.environ[FIXED_FLAG_ENV]).exists():
        raise ModelMissingError(BROKEN_REASON)
    answer = brightness_label(frame)
    set_brightness(label_row, answer)
    return TaskAgentReturnStruct(pathway=PATHWAY_FOR[answer], label_row=label_row)
