"""Pytest fixtures: `emulator` (the demo seed, fresh per test) and `emulator_factory` (any seed).

Register with `pytest_plugins = ["encord_emulator.pytest_plugin"]` in a root conftest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from encord_emulator.testing import DEMO_SEED, RunningEmulator, run_emulator

EmulatorFactory = Callable[..., RunningEmulator]


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    """An emulator serving examples/demo/project.yaml with fresh state, on a free port."""
    with run_emulator(DEMO_SEED) as running:
        yield running


@pytest.fixture
def emulator_factory() -> Iterator[EmulatorFactory]:
    """`emulator_factory(seed, **run_emulator_kwargs)` starts an emulator that stops after the test."""
    with ExitStack() as stack:

        def start(seed: Path | str | dict[str, Any] = DEMO_SEED, **kwargs: Any) -> RunningEmulator:
            return stack.enter_context(run_emulator(seed, **kwargs))

        yield start
