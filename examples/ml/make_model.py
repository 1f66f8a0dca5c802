"""Write the example's model file with the `onnx` package's helpers: `python -m examples.ml.make_model [PATH]`.

No model hub is reachable from where this runs, so the model is small and made here: a linear classifier over the
frame's mean colour. It computes Rec. 601 luma and scores `dark` / `bright` around a threshold, the same rule as the
demo agent, so the two agree on every demo image. A real agent ships a trained model file the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MODEL_FILE = Path(__file__).with_name("brightness.onnx")
LABELS = ("dark", "bright")
THRESHOLD = 125.0
OPSET = 18
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def make_model(*, threshold: float = THRESHOLD) -> onnx.ModelProto:
    """image float32 (N, H, W, 3) RGB 0..255 -> probabilities float32 (N, 2) over LABELS."""
    weights = np.stack([-_LUMA, _LUMA], axis=1)  # (3, 2): logit(bright) = luma - threshold = -logit(dark)
    bias = np.array([threshold, -threshold], dtype=np.float32)
    graph = helper.make_graph(
        nodes=[
            helper.make_node("ReduceMean", ["image", "spatial_axes"], ["mean_rgb"], keepdims=0),
            helper.make_node("MatMul", ["mean_rgb", "weights"], ["scaled"]),
            helper.make_node("Add", ["scaled", "bias"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        name="brightness",
        inputs=[helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", "H", "W", 3])],
        outputs=[helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", len(LABELS)])],
        initializer=[
            numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "spatial_axes"),
            numpy_helper.from_array(weights.astype(np.float32), "weights"),
            numpy_helper.from_array(bias, "bias"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="runner-core")
    model.ir_version = 8  # readable by onnxruntime 1.17 and later
    onnx.checker.check_model(model, full_check=True)
    return model


def write_model(path: Path = MODEL_FILE) -> Path:
    onnx.save_model(make_model(), str(path))
    return path


if __name__ == "__main__":
    print(write_model(Path(sys.argv[1]) if len(sys.argv) > 1 else MODEL_FILE))
