"""examples/ml: its model file is what `make_model` builds, it agrees with the demo rule, it loads once per
instance, and its build is checked for size (over the zip limit with onnxruntime: it deploys as an image)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from typer.testing import CliRunner

from deploy.build.builder import MANIFEST
from deploy.build.cli import app as build_app
from deploy.build.image import IMAGE_LIMIT_BYTES, TASK_DIR
from deploy.build.report import LAMBDA_UNZIPPED_LIMIT_BYTES
from examples.demo.agent import brightness_label
from examples.ml import agent as ml
from examples.ml.make_model import MODEL_FILE, make_model, write_model
from runner_core.di.instance import process_instances

REPO = Path(__file__).resolve().parents[3]
TARGET = "examples.ml.agent:runner"


@pytest.fixture(autouse=True)
def _fresh_instance() -> Iterator[None]:
    process_instances().close()
    yield
    process_instances().close()


def test_the_shipped_model_is_the_one_make_model_builds(tmp_path: Path) -> None:
    built = onnx.load(str(write_model(tmp_path / "brightness.onnx")))
    assert onnx.load(str(MODEL_FILE)).graph == built.graph == make_model().graph


def test_the_model_agrees_with_the_demo_rule() -> None:
    model = ml.load_model()
    rng = np.random.default_rng(7)
    for _ in range(100):
        frame = (rng.integers(0, 256, size=(12, 16, 3)) // rng.integers(1, 4)).astype(np.uint8)
        label, probability = model.predict(frame)
        assert label == brightness_label(frame)
        assert 0.5 <= probability <= 1.0


def test_warm_up_loads_the_model_once_for_every_later_task() -> None:
    before = ml.model_loads.count
    ml.runner.warm_up()
    ml.runner.warm_up()
    assert ml.model_loads.count == before + 1


def test_the_zip_is_over_lambdas_limit_and_says_to_use_an_image(tmp_path: Path) -> None:
    args = ["aws", "--target", TARGET, "--agent-dir", str(REPO), "--out", str(tmp_path), "--from-site-packages"]
    result = CliRunner().invoke(build_app, args)
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert "over the limit of 250.0 MB" in text
    assert "onnxruntime" in text, "the size report names the biggest packages"
    assert "deploy as a container image" in text
    assert not (tmp_path / "lambda.zip").exists()


def test_the_image_context_holds_the_runtime_and_the_model(tmp_path: Path) -> None:
    args = ["aws", "--target", TARGET, "--agent-dir", str(REPO), "--out", str(tmp_path), "--from-site-packages"]
    result = CliRunner().invoke(build_app, [*args, "--image"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["agent_requirements"] == ["onnxruntime>=1.17"]
    assert manifest["stages"] == ["pre-label"]
    assert LAMBDA_UNZIPPED_LIMIT_BYTES < manifest["unzipped_bytes"] < IMAGE_LIMIT_BYTES
    task = tmp_path / "image" / TASK_DIR
    assert (task / "examples/ml/brightness.onnx").is_file()
    assert (task / "onnxruntime/__init__.py").is_file()
    assert not (task / "onnx").exists(), "onnx only builds the model: it is not a run-time requirement"
