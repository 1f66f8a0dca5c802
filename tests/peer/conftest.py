"""Prints the peer suite's counts at the end of the run (`make test` shows them)."""

from __future__ import annotations

import pytest

from tests.peer.peer_suite import PEER_SUMMARY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    summary = config.stash.get(PEER_SUMMARY, None)
    if summary is not None:
        terminalreporter.write_sep("-", "encord-agents 0.2.10 integration tests against the emulator")
        terminalreporter.write_line(summary)
