"""AWS Lambda SnapStart runtime hooks (Python 3.12+ runtimes; the module's `snap_start` variable turns it on).

With SnapStart, Lambda runs the function's init once per published version, snapshots the memory and starts every
instance from a copy of that snapshot. What init leaves behind is shared by all of them, so:
- before the snapshot: load the runner (the agent module and its imports), import what the first message needs, and
  create the instance-scoped dependencies (a model), so a restored instance starts with them in memory;
- after a restore: re-create what must not be shared: the Encord client and the projects fetched with it (their
  connections), instance-scoped values not declared `on_restore="keep"`, the temp dir cache and the random state.

Hooks are registered with the runtime's `snapshot_restore_py` only when Lambda initialises for a snapshot
(`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`), so other starts pay nothing.
"""

from __future__ import annotations

import logging
import os
import random
import sys
import tempfile
from typing import Protocol, runtime_checkable

from functions.target import load_runner

logger = logging.getLogger("runner_core")

SNAP_START = "snap-start"


@runtime_checkable
class SnapshotAware(Protocol):
    """What the hooks use of a runner (runner_core's runners have both); another target gets the rest only."""

    def warm_up(self) -> int: ...

    def refresh_client(self) -> None: ...


def before_snapshot() -> None:
    runner = load_runner()
    # The modules the first message imports lazily (the pipeline, the async solver): imported now, they are in the
    # snapshot.
    import runner_core.di.solver
    import runner_core.runners.pipeline  # noqa: F401

    created = runner.warm_up() if isinstance(runner, SnapshotAware) else 0
    logger.info("SnapStart: runner loaded and %d instance-scoped dependencies created before the snapshot", created)


def after_restore() -> None:
    from runner_core.client import clear_client_cache
    from runner_core.di.instance import process_instances

    runner = load_runner()
    if isinstance(runner, SnapshotAware):
        runner.refresh_client()
    clear_client_cache()
    kept = process_instances().after_restore()
    tempfile.tempdir = None  # recomputed on next use, from this instance's environment
    random.seed()  # from os.urandom: clones of one snapshot must not draw the same numbers
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()  # the legacy global generator, same reason
    logger.info("SnapStart: restored; client and instance-scoped dependencies refreshed (%d kept)", kept)


def register() -> bool:
    """Register the hooks when this init is for a SnapStart snapshot; returns whether they were registered."""
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") != SNAP_START:
        return False
    from snapshot_restore_py import register_after_restore, register_before_snapshot

    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
    return True
