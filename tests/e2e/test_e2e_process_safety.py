"""Process safety of the local stack: nothing orphaned, nothing signalled that we did not start.

`runner-core local up|down` run in this process (Typer's runner) so a failure can be planted cheaply.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deploy.local import cli, components
from deploy.local.errors import ComponentUnavailableError, StateFileError
from deploy.local.processes import ManagedProcess, ProcessSpec, process_start_time, session_alive, session_members
from deploy.local.stack import Stack


def _orphaning_session() -> tuple[int, int | None]:
    """A session whose leader has exited while its child (a `sleep`) lives on; returns (sid, leader start time)."""
    leader = subprocess.Popen(["/bin/sh", "-c", "sleep 300 & read _"], stdin=subprocess.PIPE, start_new_session=True)
    start_time = process_start_time(leader.pid)
    deadline = time.monotonic() + 5
    while len(session_members(leader.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert leader.stdin is not None
    leader.stdin.close()  # the leader reads EOF and exits; its `sleep` stays in the session
    leader.wait(timeout=5)
    return leader.pid, start_time


def test_down_stops_what_is_left_of_a_component_whose_leader_died(tmp_path: Path) -> None:
    sid, start_time = _orphaning_session()
    try:
        assert session_alive(sid), "the child should outlive its session leader"
        state_file = tmp_path / "state.json"
        component = {"name": "rie", "pid": sid, "start_time": start_time, "url": None, "log": "x.log"}
        state_file.write_text(json.dumps({"run_dir": str(tmp_path), "components": [component]}))
        result = CliRunner().invoke(cli.app, ["down", "--state-file", str(state_file)])
        assert result.exit_code == 0, result.output
        assert not session_alive(sid)
    finally:
        for pid in session_members(sid):
            os.kill(pid, signal.SIGKILL)


def test_up_stops_what_it_started_when_any_error_interrupts_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[int] = []

    def broken_aws_path(self: Stack, **_: object) -> None:
        started.extend(p.pid for p in self.processes)
        raise KeyError("a bug, or Ctrl-C, halfway through `up`")

    monkeypatch.setattr(Stack, "aws_path", broken_aws_path)
    monkeypatch.chdir(tmp_path)
    state_file = tmp_path / "state.json"
    result = CliRunner().invoke(cli.app, ["up", "--no-gcp", "--state-file", str(state_file)])
    assert result.exit_code != 0
    assert started, "the Encord emulator should have been started"
    assert not any(session_alive(pid) for pid in started)
    assert not state_file.exists()


def test_up_treats_an_unreadable_state_file_as_no_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_aws_path(self: Stack, **_: object) -> None:
        raise KeyError("stop right after the state check")

    monkeypatch.setattr(Stack, "aws_path", broken_aws_path)
    monkeypatch.chdir(tmp_path)
    state_file = tmp_path / "state.json"
    state_file.write_text("{ not json")
    result = CliRunner().invoke(cli.app, ["up", "--no-gcp", "--state-file", str(state_file)])
    assert not isinstance(result.exception, StateFileError), result.output
    assert "it will be replaced" in " ".join(result.output.split())


def test_stopping_an_already_exited_component_signals_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # It must outlive the readiness check (a process gone before it counts as a failed start), then exit by itself.
    spec = ProcessSpec(name="brief", argv=["/bin/sh", "-c", "sleep 1"], ready=lambda _: "done", serves_http=False)
    process = ManagedProcess(spec, log_dir=tmp_path).start()
    deadline = time.monotonic() + 10
    while process.alive() and time.monotonic() < deadline:  # alive() reaps it: its PID is free for reuse
        time.sleep(0.02)
    assert not process.alive(), "the component should have exited and been reaped"
    signalled: list[int] = []
    monkeypatch.setattr(os, "killpg", lambda pgid, sig: signalled.append(pgid))
    monkeypatch.setattr(os, "kill", lambda pid, sig: signalled.append(pid))
    process.stop()
    process.stop()
    assert signalled == []


def test_stopping_the_pubsub_emulator_ends_its_java_process(tmp_path: Path) -> None:
    try:
        spec = components.pubsub_emulator()
    except ComponentUnavailableError as exc:
        pytest.skip(str(exc))
    with ManagedProcess(spec, log_dir=tmp_path) as emulator:
        members = session_members(emulator.pid)
        assert any("java" in Path(f"/proc/{pid}/cmdline").read_text() for pid in members)
    assert emulator.log_path.is_file()
    assert not any(Path(f"/proc/{pid}").exists() for pid in members)
