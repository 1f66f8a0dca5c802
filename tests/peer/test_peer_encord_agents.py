"""encord-agents' own task and core integration tests, unmodified, against our emulator (see peer_suite.py).

Opt-in (RUNNER_CORE_SLOW=1, which `make test` sets): the first run downloads their sdist through pip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.peer.encord_agents_peer_plugin import expected_failures
from tests.peer.peer_suite import PEER_SUMMARY, run_peer_suite

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("RUNNER_CORE_SLOW") != "1", reason="slow: set RUNNER_CORE_SLOW=1 to run"),
    pytest.mark.timeout(1200),
]


def test_encord_agents_integration_suite_passes_on_the_emulator(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    cache = request.config.cache.mkdir("encord-agents-peer") if request.config.cache else tmp_path / "cache"
    run = run_peer_suite(cache=Path(cache), workdir=tmp_path / "peer")
    request.config.stash[PEER_SUMMARY] = f"{run.summary()} (expected failures: tests/peer/expected_failures.yaml)"

    failed = sorted(node for node, outcome in run.outcomes.items() if outcome in ("failed", "xpassed"))
    assert not failed, f"peer tests failing (or no longer failing) on the emulator: {failed}\n{run.output[-6000:]}"
    # Both suites ran: their tasks suite alone has dozens of tests, core has eight.
    assert run.count("passed") >= 40, run.output[-4000:]
    assert any(node.startswith("tests/integration_tests/core/") for node in run.outcomes)
    # Every listed expected failure exists and failed (a stale entry would hide nothing, but mislead).
    expected = expected_failures()
    assert {node: run.outcomes.get(node) for node in expected} == dict.fromkeys(expected, "xfailed")
    assert run.not_implemented == {}, f"encord-agents reached unimplemented emulator routes: {run.not_implemented}"
    assert run.returncode == 0, run.output[-4000:]
