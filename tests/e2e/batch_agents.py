"""The demo agent, recording every call, with one planted retryable failure.

Loaded by the functions as RUNNER_TARGET=batch_agents:runner (tests/e2e is on their PYTHONPATH). Each call appends
the task's title to the file E2E_AGENT_CALLS; a task titled E2E_FAILING_TITLE raises every time (an agent exception
is a retryable failure).
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

runner = QueueRunner(project_hash=os.environ.get("DEMO_PROJECT_HASH", DEMO_PROJECT_HASH))


class PlantedFailure(RuntimeError):
    pass


@runner.stage(STAGE)
def pre_label(
    label_row: LabelRowV2,
    frame: Annotated[NDArray[np.uint8], Depends(dep_single_frame)],
) -> TaskAgentReturnStruct:
    title = label_row.data_title or ""
    with Path(os.environ["E2E_AGENT_CALLS"]).open("a", encoding="utf-8") as calls:
        calls.write(title + "\n")  # one short write per call: lines from concurrent requests do not interleave
    if title == os.environ.get("E2E_FAILING_TITLE"):
        raise PlantedFailure(f"planted failure for {title}")
    answer = brightness_label(frame)
    set_brightness(label_row, answer)
    return TaskAgentReturnStruct(pathway=PATHWAY_FOR[answer], label_row=label_row)
