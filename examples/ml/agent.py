"""The ML example: pre-label with a real ONNX model on `dep_single_frame`, the model loaded once per instance.

`load_model` is an instance-scoped dependency: the first task on a warm instance (or `runner.warm_up()`, or the
SnapStart before-snapshot hook) creates the onnxruntime session, and every later task and batch shares it. The model
file ships next to this module (examples/ml/brightness.onnx, made by `python -m examples.ml.make_model`);
`ML_MODEL_PATH` points at another one.

Deploy with `RUNNER_TARGET=examples.ml.agent:runner`; its requirements are examples/ml/requirements.txt. With
onnxruntime it is over Lambda's 250 MB zip limit: build it with `runner-core build aws --image` (README, "Sizing").
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
from encord.objects.ontology_labels_impl import LabelRowV2
from numpy.typing import NDArray

from examples.demo.agent import DEMO_PROJECT_HASH, PATHWAY_FOR, STAGE, set_brightness
from runner_core import Depends, QueueRunner, TaskAgentReturnStruct
from runner_core.dependencies import dep_single_frame

if TYPE_CHECKING:
    import onnxruntime

MODEL_FILE = Path(__file__).with_name("brightness.onnx")
LABELS = ("dark", "bright")  # the model's output order (examples/ml/make_model.py)

runner = QueueRunner(project_hash=os.environ.get("DEMO_PROJECT_HASH", DEMO_PROJECT_HASH))


class LoadCounter:
    """How many times this process loaded the model (the benchmark's and the tests' evidence; target: 1)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self) -> None:
        with self._lock:
            self.count += 1


model_loads = LoadCounter()


class BrightnessModel:
    """An onnxruntime session over the brightness model; `run` is thread-safe, as onnxruntime's is."""

    def __init__(self, session: onnxruntime.InferenceSession) -> None:
        self._session = session

    def predict(self, frame: NDArray[np.uint8]) -> tuple[str, float]:
        """The label of an RGB frame (h, w, 3) and its probability."""
        batch = frame[np.newaxis, ..., :3].astype(np.float32)
        (probabilities,) = self._session.run(["probabilities"], {"image": batch})
        index = int(np.argmax(probabilities[0]))
        return LABELS[index], float(probabilities[0][index])


def load_model() -> BrightnessModel:
    # onnxruntime is imported here, not at module import: importing the agent stays cheap, and a warm-up (or
    # SnapStart's snapshot) pays for the import and the session together.
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # One thread per session: a Lambda instance runs one batch at a time, and tasks overlap their downloads instead.
    options.intra_op_num_threads = 1
    path = Path(os.environ.get("ML_MODEL_PATH", str(MODEL_FILE)))
    session = onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    model_loads.add()
    return BrightnessModel(session)


@runner.stage(STAGE)
def pre_label(
    label_row: LabelRowV2,
    frame: Annotated[NDArray[np.uint8], Depends(dep_single_frame)],
    # Kept across a SnapStart restore: weights are data; the snapshot exists so restored instances skip this load.
    model: Annotated[BrightnessModel, Depends(load_model, scope="instance", on_restore="keep")],
) -> TaskAgentReturnStruct:
    answer, _probability = model.predict(frame)
    set_brightness(label_row, answer)
    return TaskAgentReturnStruct(pathway=PATHWAY_FOR[answer], label_row=label_row)
