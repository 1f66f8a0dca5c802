"""Fixtures for runner tests: an emulator serving a small two-agent-stage project (see rc_env.seed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from encord_emulator.testing import run_emulator
from runner_core.client import clear_client_cache
from tests.integration.runners.rc_env import Env, EnvFactory, seed


@pytest.fixture
def env_factory() -> Iterator[EnvFactory]:
    with ExitStack() as stack:

        def start(**seed_kwargs: Any) -> Env:
            emu = stack.enter_context(run_emulator(seed(**seed_kwargs)))
            return Env(emu=emu, client=emu.client())

        yield start


@pytest.fixture
def env(env_factory: EnvFactory) -> Env:
    return env_factory()


@pytest.fixture(autouse=True)
def _fresh_client_cache() -> Iterator[None]:
    clear_client_cache()
    yield
    clear_client_cache()
