"""How `SequentialRunner.run()` logs: one line per problem on the terminal, full tracebacks in a log file.

A failed attempt is worth one line to the person watching (`task ... failed in agent: ValueError: boom`); its
traceback belongs in a file they can open when the line is not enough, or on the terminal with `--verbose`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from runner_core.runners.classify import redact, short_reason

LOGGER_NAME = "runner_core"
DEFAULT_LOG_DIR = Path(".runner-core") / "logs"


class RedactingFormatter(logging.Formatter):
    """The whole formatted record, traceback included, through `classify.redact`: no key reaches a terminal or file."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class OneLineFormatter(logging.Formatter):
    """`WARNING task ... failed in pre_label: ValueError: boom`: the exception as its short reason, no traceback."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = redact(super().formatMessage(_with_message(record)))
        exc = record.exc_info[1] if record.exc_info else None
        return f"{line}: {short_reason(exc)}" if exc is not None and short_reason(exc) not in line else line


def _with_message(record: logging.LogRecord) -> logging.LogRecord:
    record.message = record.getMessage()
    return record


def default_log_file() -> Path:
    return DEFAULT_LOG_DIR / f"run-{datetime.now(UTC):%Y%m%d-%H%M%S}.log"


def configure(*, verbose: bool, log_file: Path) -> list[logging.Handler]:
    """Attach the terminal and file handlers to the `runner_core` logger; returns them so the caller can remove them.

    The file is created on the first record only (`delay=True`): a clean run leaves no file behind.
    """
    logger = logging.getLogger(LOGGER_NAME)
    terminal = logging.StreamHandler()
    terminal.setLevel(logging.DEBUG if verbose else logging.WARNING)
    terminal.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s") if verbose else OneLineFormatter())
    to_file = _LazyFileHandler(log_file, delay=True, encoding="utf-8")
    to_file.setLevel(logging.INFO)
    to_file.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handlers: list[logging.Handler] = [terminal, to_file]
    for handler in handlers:
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False  # the root logger's last-resort handler would print every traceback again
    return handlers


class _LazyFileHandler(logging.FileHandler):
    """Creates its folder with the file, at the first record."""

    def _open(self):  # type: ignore[no-untyped-def]  # typeshed types the return as a private TextIOWrapper
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


def restore(handlers: list[logging.Handler]) -> None:
    logger = logging.getLogger(LOGGER_NAME)
    for handler in handlers:
        logger.removeHandler(handler)
        handler.close()
    logger.propagate = True
    logger.setLevel(logging.NOTSET)
