"""Managed child processes: free ports, readiness checks, one process group each, clean shutdown, kept logs.

Every component of the local stack (emulators, the Lambda RIE, functions-framework) is a `ManagedProcess`. Each runs
in its own session (so its session and process group ids are its PID): stopping it signals that group, then kills
whatever is left of the session, which takes down children such as the RIE's runtime (in a group of its own) or
gunicorn's workers, and never touches anything we did not start.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from deploy.local.errors import ComponentStartError

ReadyCheck = Callable[["ManagedProcess"], str | None]
"""Returns the component's URL once it is ready, or None while it is not."""


def free_port() -> int:
    """A TCP port that was free a moment ago (the kernel picks it; the small reuse race is acceptable locally)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Probes go to loopback only: never through a proxy the environment may configure.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_ready(url: str, *, expect_body: str | None = None) -> ReadyCheck:
    """Ready when GET `url` answers 2xx, optionally with a given body.

    The component's URL is the probe's scheme, host and port.
    """
    parts = urllib.parse.urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"

    def check(_: ManagedProcess) -> str | None:
        try:
            with _DIRECT.open(url, timeout=1.0) as response:  # a loopback URL we built
                body = response.read().decode("utf-8", "replace")
        except (OSError, ValueError):  # refused, reset, or an HTTP error status (HTTPError is an OSError)
            return None
        if expect_body is not None and expect_body not in body:
            return None
        return base

    return check


def tcp_ready(host: str, port: int) -> ReadyCheck:
    """Ready when something accepts a TCP connection on host:port."""

    def check(_: ManagedProcess) -> str | None:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return f"http://{host}:{port}"
        except OSError:
            return None

    return check


def log_line_ready(pattern: str) -> ReadyCheck:
    """Ready when the process's log holds a line matching `pattern`; its first group is the URL."""
    compiled = re.compile(pattern, re.MULTILINE)

    def check(process: ManagedProcess) -> str | None:
        try:
            text = process.log_path.read_text("utf-8", "replace")
        except FileNotFoundError:
            return None
        match = compiled.search(text)
        return match.group(1) if match else None

    return check


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """How to start one component and how to tell it is ready."""

    name: str
    argv: Sequence[str]
    ready: ReadyCheck
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    startup_timeout_s: float = 30.0
    serves_http: bool = True  # False: the ready check's value is not a URL (e.g. a deliverer)


def process_start_time(pid: int) -> int | None:
    """The kernel's start time of `pid` (clock ticks since boot), used to refuse killing a recycled PID."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


def session_members(sid: int) -> list[int]:
    """Live (non-zombie) PIDs of session `sid`, read from /proc.

    Each component starts a session of its own, so this is everything it started, even children that moved to a
    process group of their own (the RIE puts its runtime in a separate group).
    """
    members: list[int] = []
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = stat_path.read_text()
        except OSError:
            continue
        state, _ppid, _pgrp, session = stat[stat.rindex(")") + 2 :].split()[:4]
        if int(session) == sid and state != "Z":
            members.append(int(stat_path.parent.name))
    return sorted(members)


def session_alive(sid: int) -> bool:
    return bool(session_members(sid))


def stop_session(
    sid: int, *, leader_alive: bool = True, grace_s: float = 5.0, popen: subprocess.Popen[bytes] | None = None
) -> None:
    """SIGTERM the session (a clean shutdown), then SIGKILL whatever of it is left after `grace_s`.

    `sid` is the PID of a process started with `start_new_session=True`. With `leader_alive` the leader's process
    group is signalled; once the leader is gone (reaped) its PID may belong to a stranger, so only the members still
    listed in the session are signalled: the kernel keeps the session id reserved while any of them lives.
    """
    if leader_alive:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sid, signal.SIGTERM)
    else:
        _signal_all(session_members(sid), signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if popen is not None:
            popen.poll()  # reap our direct child, or it lingers as a zombie
        if not session_alive(sid):
            break
        time.sleep(0.05)
    _signal_all(session_members(sid), signal.SIGKILL)
    if popen is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=grace_s)


def _signal_all(pids: Sequence[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


class ManagedProcess:
    """One running component. Use as a context manager, or call `start()` / `stop()`."""

    def __init__(self, spec: ProcessSpec, *, log_dir: Path) -> None:
        self.spec = spec
        self.log_path = log_dir / f"{spec.name}.log"
        self.url: str | None = None
        self._popen: subprocess.Popen[bytes] | None = None
        self._stopped = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int:
        if self._popen is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._popen.pid

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.spec.env}
        with self.log_path.open("ab") as log:
            self._popen = subprocess.Popen(  # argv built by us, no shell
                list(self.spec.argv),
                cwd=self.spec.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            ready = self._wait_ready()
            self.url = ready if self.spec.serves_http else None
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> str:
        assert self._popen is not None
        deadline = time.monotonic() + self.spec.startup_timeout_s
        while time.monotonic() < deadline:
            code = self._popen.poll()
            if code is not None:
                raise ComponentStartError(self.name, f"exited with code {code}", log_path=self.log_path)
            url = self.spec.ready(self)
            if url is not None:
                return url
            time.sleep(0.05)
        raise ComponentStartError(
            self.name, f"not ready after {self.spec.startup_timeout_s:.0f} s", log_path=self.log_path
        )

    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def stop(self, *, grace_s: float = 5.0) -> None:
        """Stop the component's whole session; a no-op once stopped (its PID may be reused by then)."""
        if self._popen is None or self._stopped:
            return
        self._stopped = True
        # An unreaped leader (returncode None, even if it already exited) still holds its PID and group id.
        leader_alive = self._popen.returncode is None
        stop_session(self._popen.pid, leader_alive=leader_alive, grace_s=grace_s, popen=self._popen)

    def __enter__(self) -> ManagedProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
