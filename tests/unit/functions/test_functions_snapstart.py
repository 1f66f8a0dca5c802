"""SnapStart hooks, called directly: warm before the snapshot; after a restore re-create the client, the instance
values not kept, the temp dir cache and the random state."""

from __future__ import annotations

import random
import sys
import tempfile
import types
from collections import Counter
from collections.abc import Iterator
from typing import Annotated

import numpy as np
import pytest
import snapshot_restore_py
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from functions import _snapstart, target
from runner_core import Depends, QueueRunner
from runner_core.client import clear_client_cache, get_user_client
from runner_core.di.instance import process_instances

PROJECT = "7e3b9c1a-4d2f-4a8e-9b6c-1f0d2e3a4b5c"
made: Counter[str] = Counter()


def load_weights() -> list[float]:
    made["weights"] += 1
    return [0.5, 0.25]


def open_session() -> object:
    made["session"] += 1
    return object()


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> Iterator[QueueRunner]:
    module = types.ModuleType("snapstart_agents")
    agents = QueueRunner(project_hash=PROJECT)

    @agents.stage("pre-label")
    def label(
        weights: Annotated[list[float], Depends(load_weights, scope="instance", on_restore="keep")],
        session: Annotated[object, Depends(open_session, scope="instance")],
    ) -> str:
        return "annotate"

    module.runner = agents  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setenv("RUNNER_TARGET", "snapstart_agents:runner")
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    monkeypatch.setenv("ENCORD_SSH_KEY", key.decode())
    monkeypatch.delenv("ENCORD_SSH_KEY_FILE", raising=False)
    target.clear_cache()
    clear_client_cache()
    process_instances().close()
    made.clear()
    yield agents
    process_instances().close()
    clear_client_cache()
    target.clear_cache()


def _cached_tempdir() -> str | None:
    return tempfile.tempdir  # read through a function: mypy would keep the narrowing from the assignment above


def _value_of(runner: QueueRunner, name: str) -> object:
    (agent,) = runner.agents
    (node,) = [d for d in agent.dependant.dependencies if d.name == name]
    return process_instances().value(node)


def test_before_snapshot_loads_the_runner_and_creates_instance_values(runner: QueueRunner) -> None:
    _snapstart.before_snapshot()
    assert made == {"weights": 1, "session": 1}
    assert "runner_core.runners.pipeline" in sys.modules
    assert "runner_core.di.solver" in sys.modules


def test_after_restore_recreates_what_must_not_be_shared_and_keeps_the_rest(runner: QueueRunner) -> None:
    _snapstart.before_snapshot()
    weights, session = _value_of(runner, "weights"), _value_of(runner, "session")
    client = runner.client
    assert client is get_user_client()
    tempfile.tempdir = "/snapshot-time-tmp"

    _snapstart.after_restore()

    assert _value_of(runner, "weights") is weights, "kept (on_restore='keep'): the point of the snapshot"
    assert _value_of(runner, "session") is not session, "re-created on first use after the restore"
    assert made == {"weights": 1, "session": 2}
    assert runner.client is not client, "a new Encord client (and connections) for the restored instance"
    assert _cached_tempdir() is None
    assert tempfile.gettempdir() != "/snapshot-time-tmp"


def test_after_restore_reseeds_random_state(runner: QueueRunner) -> None:
    # Two clones of one snapshot start from the same generator state; after the hook they must draw differently.
    random.seed(1234)
    np.random.seed(1234)
    python_state, numpy_state = random.getstate(), np.random.get_state()
    _snapstart.after_restore()
    first = (random.random(), float(np.random.random()))
    random.setstate(python_state)
    np.random.set_state(numpy_state)
    _snapstart.after_restore()
    second = (random.random(), float(np.random.random()))
    assert first[0] != second[0]
    assert first[1] != second[1]


def test_hooks_register_only_for_a_snapstart_init(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", [])
    monkeypatch.setattr(snapshot_restore_py, "_after_restore_registry", [])
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    assert _snapstart.register() is False
    assert snapshot_restore_py.get_before_snapshot() == []
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    assert _snapstart.register() is True
    assert [f for f, _, _ in snapshot_restore_py.get_before_snapshot()] == [_snapstart.before_snapshot]
    assert [f for f, _, _ in snapshot_restore_py.get_after_restore()] == [_snapstart.after_restore]
