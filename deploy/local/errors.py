"""What can go wrong when running the local stack."""

from __future__ import annotations

from pathlib import Path


class LocalStackError(Exception):
    """Base class of the local stack's errors."""


class ComponentUnavailableError(LocalStackError):
    """A component's binary is not installed here (Java, the Pub/Sub emulator JAR, the RIE)."""


class ComponentStartError(LocalStackError):
    """A component exited or never became ready. The message ends with the tail of its log."""

    def __init__(self, name: str, reason: str, *, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        super().__init__(f"{name} {reason}; log {log_path}:\n{_tail(log_path)}")


class StateFileError(LocalStackError):
    """`runner-core local down|status` found no stack started by `local up`, or an unreadable state file."""


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text("utf-8", "replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"
