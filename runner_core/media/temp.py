"""Per-task temporary directories under the configured temp root."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from runner_core.media.settings import MediaSettings

TEMP_PREFIX = "runner-core-"
# Older than any task can run (Lambda stops at 15 min): a directory this old was left by a killed process.
STALE_AFTER_S = 3600.0

logger = logging.getLogger(__name__)
_swept: set[Path] = set()
_sweep_lock = threading.Lock()


@contextmanager
def task_temp_dir(settings: MediaSettings) -> Iterator[Path]:
    """A fresh directory that no other task shares, removed with everything in it on exit (also on errors).

    Lambda keeps /tmp across warm invocations, so leaking here would eventually fill it.
    """
    root = settings.temp_root()
    sweep_stale(root)
    path = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sweep_stale(root: Path, *, max_age_s: float = STALE_AFTER_S, force: bool = False) -> int:
    """Once per process and root: remove our directories a previous, killed process left behind.

    A timed-out Lambda or an OOM-killed worker never runs its cleanup, and the next process inherits /tmp.
    Returns how many directories were removed.
    """
    with _sweep_lock:
        if root in _swept and not force:
            return 0
        _swept.add(root)
    cutoff = time.time() - max_age_s
    removed = 0
    for candidate in root.glob(f"{TEMP_PREFIX}*"):
        try:
            if candidate.is_dir() and candidate.stat().st_mtime < cutoff:
                shutil.rmtree(candidate, ignore_errors=True)
                removed += 1
        except OSError:  # another process removed it first
            continue
    if removed:
        logger.info("media: removed %d stale temp dir(s) under %s", removed, root)
    return removed
