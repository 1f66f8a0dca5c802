"""`runner-core local up --reload` and `runner-core local watch`, as a person runs them: `up` in the foreground
watching the agent's file, `watch` in a terminal (a pty), tasks dispatched, the agent edited, tasks dispatched again.
"""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
import requests

from deploy.local import components
from deploy.local.encord import EmulatorControl
from deploy.local.errors import ComponentUnavailableError
from deploy.local.seeds import DEMO_PROJECT_HASH

# Before the edit: bright images go to `annotate`, everything else is held (no pathway, the task stays).
AGENT_V1 = f'''
from encord.workflow.stages.agent import AgentTask
from runner_core import QueueRunner

runner = QueueRunner(project_hash="{DEMO_PROJECT_HASH}")


@runner.stage("pre-label")
def route(task: AgentTask) -> str | None:
    return "annotate" if task.data_title.startswith("bright") else None
'''
AGENT_V2 = AGENT_V1.replace("else None", 'else "skip"')
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Output:
    """Everything a child writes, collected by a thread, searchable while it runs."""

    def __init__(self, read: Callable[[], bytes]) -> None:
        self._chunks: list[str] = []
        self._read = read
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def join(self) -> None:
        self._thread.join(timeout=10)

    def _pump(self) -> None:
        while chunk := self._read():
            self._chunks.append(chunk.decode("utf-8", "replace"))

    @property
    def text(self) -> str:
        return ANSI.sub("", "".join(self._chunks))

    def wait_for(self, pattern: str, *, timeout_s: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if found := re.search(pattern, self.text):
                return found
            time.sleep(0.2)
        raise AssertionError(f"no {pattern!r} within {timeout_s:.0f} s in:\n{self.text[-3000:]}")


def _cli(*args: str, cwd: Path, **popen: object) -> subprocess.Popen[bytes]:
    env = components.python_env({"COLUMNS": "160", "LINES": "60", "TERM": "xterm"})
    return subprocess.Popen([sys.executable, "-m", "deploy.local.cli", *args], cwd=cwd, env=env, **popen)  # type: ignore[call-overload, no-any-return]


def _pipe_reader(stream: IO[bytes] | None) -> Callable[[], bytes]:
    assert stream is not None
    return lambda: stream.read1(4096)  # type: ignore[attr-defined]


def _pty_reader(master: int) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            return os.read(master, 4096)
        except OSError:  # EIO once the child closed its side
            return b""

    return read


def _agent_stage_counts(text: str) -> list[int]:
    """The `pre-label` count in each redraw of the watch view, in order, without repeats."""
    counts: list[int] = []
    for value in re.findall(r"pre-label\s*│\s*agent\s*│\s*(\d+)", text):
        if not counts or counts[-1] != int(value):
            counts.append(int(value))
    return counts


@pytest.fixture
def sigint_as_in_a_terminal() -> Iterator[None]:
    """Give the children SIGINT at its default disposition, as a terminal's foreground job has it.

    A suite started as a background job of a script (`make test &`, nohup, some CI runners) inherits SIGINT ignored,
    an ignored signal stays ignored across exec, and Python then never raises KeyboardInterrupt: neither child could
    be stopped by the Ctrl-C this test sends. A handled signal is reset to its default across exec, so handling it
    here (in the test process, while the children start) is enough.
    """
    if signal.getsignal(signal.SIGINT) != signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.timeout(240)
@pytest.mark.usefixtures("sigint_as_in_a_terminal")
def test_watch_shows_tasks_moving_and_reload_picks_up_an_edit(tmp_path: Path) -> None:
    try:
        components.find_rie()
    except ComponentUnavailableError as exc:
        pytest.skip(str(exc))
    agent = tmp_path / "reload_agent.py"
    agent.write_text(AGENT_V1)
    up = _cli("up", "--no-gcp", "--reload", "--target", "reload_agent:runner", cwd=tmp_path,
              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    up_output = Output(_pipe_reader(up.stdout))
    master, slave = pty.openpty()
    watch: subprocess.Popen[bytes] | None = None
    try:
        up_output.wait_for(r"reload: watching 1 file\(s\) of reload_agent:runner", timeout_s=120)
        state = json.loads((tmp_path / ".runner-core" / "local" / "state.json").read_text())
        watch = _cli("watch", "--interval", "0.3", cwd=tmp_path, stdin=slave, stdout=slave, stderr=slave)
        view = Output(_pty_reader(master))
        view.wait_for(r"pre-label\s*│\s*agent\s*│\s*28\b", timeout_s=60)

        session = requests.Session()
        session.trust_env = False
        control = EmulatorControl(state["encord"]["ENCORD_DOMAIN"])

        def dispatch_and_settle(*, annotate: int, complete: int) -> None:
            assert session.post(state["paths"]["aws"]["dispatch_url"], json={}, timeout=60).ok
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                counts = control.stage_counts(DEMO_PROJECT_HASH)
                if counts["Annotate"] == annotate and counts["Complete"] == complete:
                    return
                time.sleep(0.3)
            raise AssertionError(f"stages never reached Annotate={annotate} Complete={complete}: {counts}")

        dispatch_and_settle(annotate=12, complete=0)  # v1: only the bright images moved, 16 held
        view.wait_for(r"pre-label\s*│\s*agent\s*│\s*16\b", timeout_s=30)
        view.wait_for(r"held 16, moved 12", timeout_s=30)

        time.sleep(1.1)  # a new mtime even on filesystems with one-second timestamps
        agent.write_text(AGENT_V2)
        up_output.wait_for(r"reloaded: reload_agent\.py changed; restarted lambda-consume-0", timeout_s=60)
        dispatch_and_settle(annotate=12, complete=16)  # v2, without restarting the stack by hand
        view.wait_for(r"pre-label\s*│\s*agent\s*│\s*0\b", timeout_s=30)

        counts = _agent_stage_counts(view.text)
        assert counts[0] == 28
        assert counts[-1] == 0
        assert 16 in counts
        assert counts == sorted(counts, reverse=True)  # only ever down while the tasks leave the stage
        assert re.search(r"lambda-consume-\d\s*│\s*dark-\d\d\.png\s*│\s*moved\s*│\s*skip", view.text)

        # The run report of this `up` stack: every task, with the route it took in the end.
        page = tmp_path / "report.html"
        reported = subprocess.run(
            [sys.executable, "-m", "deploy.local.cli", "report", "--out", str(page), "--no-thumbnails"],
            cwd=tmp_path, env=components.python_env(), capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert reported.returncode == 0, reported.stdout + reported.stderr
        cards = {
            title: dict(re.findall(r"<tr><th>(\w+)</th><td[^>]*>([^<]*)</td></tr>", body))
            for title, body in re.findall(r'data-title="([^"]+)"[^>]*>(.*?)</article>', page.read_text())
        }
        assert len(cards) == 28
        assert 'id="failures"' not in page.read_text()
        for title, fields in cards.items():
            bright = title.startswith("bright")
            assert fields["stage"] == ("pre-label → Annotate" if bright else "pre-label → Complete"), title
            assert fields["pathway"] == ("annotate" if bright else "skip"), title
            assert fields["attempts"] == ("1" if bright else "2"), title  # held by v1, moved by v2
    finally:
        codes = {}
        for name, child in (("watch", watch), ("up", up)):
            if child is None:
                continue
            if child.poll() is None:
                child.send_signal(signal.SIGINT)  # Ctrl-C, as a person stops them
            try:
                codes[name] = child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()  # our own child, by its handle
                codes[name] = child.wait(timeout=10)
        stopped = subprocess.run(
            [sys.executable, "-m", "deploy.local.cli", "down"], cwd=tmp_path, env=components.python_env(),
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        up_output.join()
        assert up.stdout is not None
        up.stdout.close()
        os.close(slave)
        os.close(master)
    # Ctrl-C ends the view and the reloader cleanly (only checked once the body passed: a body's failure raises first)
    assert codes == {"watch": 0, "up": 0}, f"exit codes after SIGINT: {codes}; up said:\n{up_output.text[-2000:]}"
    up_output.wait_for(r"reload: stopped watching; the stack keeps running", timeout_s=10)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
