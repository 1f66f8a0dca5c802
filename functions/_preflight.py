"""`python -m functions._preflight TARGET`: load the runner as a cold function would, with the network refused.

Run by `runner-core build` (in a subprocess whose sys.path is the built artifact) and by `runner-core local up`
before anything is written or started. Loading the runner imports the agent module, which analyses every agent's
signature at decoration, so a missing module, a missing attribute, an import error inside the agent and an
unsupported agent parameter all fail here with the message the function would log.

Prints one JSON line: {"ok": true, "stages": [...]} or {"ok": false, "error": "..."}; exits 0 or 1.
"""

from __future__ import annotations

import json
import socket
import sys
import traceback
from typing import Any, NoReturn

from functions.errors import TargetLoadError
from functions.target import load_runner


class NetworkRefusedError(OSError):
    """Raised by any connection attempt during the check: importing an agent must not need the network."""


def _refuse(*_args: object, **_kwargs: object) -> NoReturn:
    raise NetworkRefusedError("the agent module opened a network connection at import; do that on first use instead")


def refuse_network() -> None:
    """Make every socket connect and name lookup fail in this process (the check's process only)."""
    socket.socket.connect = _refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = _refuse  # type: ignore[method-assign]
    socket.getaddrinfo = _refuse
    socket.create_connection = _refuse


def check(spec: str) -> list[str]:
    """Load `spec` and return the stages its agents serve; raise with the function's own message otherwise."""
    runner: Any = load_runner(spec)
    agents = getattr(runner, "agents", ())
    if not agents:
        raise TargetLoadError(f"RUNNER_TARGET={spec!r}: the runner has no agents; register one with @runner.stage(...)")
    return [str(agent.identity) for agent in agents]


def describe_failure(exc: BaseException) -> str:
    """The error as the function reports it, plus where in user code it was raised (the last frame outside us)."""
    text = str(exc) if isinstance(exc, TargetLoadError) else f"{type(exc).__name__}: {exc}"
    cause = exc.__cause__
    if isinstance(exc, TargetLoadError) and cause is not None:
        exc = cause
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "importlib" not in f.filename]
    if frames and not isinstance(exc, ModuleNotFoundError | TargetLoadError):
        last = frames[-1]
        text += f" (at {last.filename}:{last.lineno})"
    return text


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        _answer({"ok": False, "error": "usage: python -m functions._preflight package.module:attr"})
        return 2
    refuse_network()
    try:
        stages = check(args[0])
    except Exception as exc:  # every failure is the answer: reported, not raised
        _answer({"ok": False, "error": describe_failure(exc)})
        return 1
    _answer({"ok": True, "stages": stages})
    return 0


def _answer(payload: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")


if __name__ == "__main__":
    sys.exit(main())
