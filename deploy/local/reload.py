"""`runner-core local up --reload`: restart the functions when the agent's source changes.

A warm function keeps the code it imported when it started (a Lambda runtime or a Cloud Functions instance only
imports once), so an edit reaches the stack only through a restart. The functions restart on the same ports, so the
deliverers and the dispatch URLs `up` printed keep working; queues, topics and the emulator's state are untouched.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.machinery import PathFinder
from pathlib import Path

from deploy.local.errors import ComponentStartError, LocalStackError
from deploy.local.processes import ManagedProcess
from deploy.local.stack import Stack

# The components that import the agent: the consumers and the producer of each path.
FUNCTION_PREFIXES = ("lambda-consume", "lambda-dispatch", "functions-framework-consume")

Fingerprint = dict[Path, tuple[int, int]]


def agent_sources(target: str, *, search_path: Sequence[str]) -> list[Path]:
    """The .py files of the top-level package (or module) holding `target` (`package.module:attr`).

    Found with `PathFinder.find_spec`, which locates without importing: the agent's import-time code runs only in
    the functions.
    """
    top = target.partition(":")[0].split(".")[0]
    spec = PathFinder.find_spec(top, list(search_path))
    if spec is None:
        raise LocalStackError(
            f"--reload: cannot find {top!r} (from --target {target}) in {os.pathsep.join(search_path)}"
        )
    if spec.submodule_search_locations:
        return sorted(path for folder in spec.submodule_search_locations for path in Path(folder).rglob("*.py"))
    assert spec.origin is not None
    return [Path(spec.origin)]


def fingerprint(files: Sequence[Path]) -> Fingerprint:
    found: Fingerprint = {}
    for path in files:
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue  # deleted: its absence changes the fingerprint
        found[path] = (stat.st_mtime_ns, stat.st_size)
    return found


@dataclass(frozen=True, slots=True)
class Restart:
    changed: list[Path]
    restarted: list[str]
    failed: list[str]  # "name: why" of functions that did not start again (e.g. the edit broke the import)


def restart_functions(stack: Stack, changed: list[Path]) -> Restart:
    """Stop and start again every function process of `stack` (same spec, same port).

    One that fails to start stays stopped and is tried again at the next change, so saving a fix brings it back.
    """
    restarted, failed = [], []
    for index, process in enumerate(stack.processes):
        if process.name.startswith(FUNCTION_PREFIXES):
            process.stop()
            try:
                stack.processes[index] = ManagedProcess(process.spec, log_dir=process.log_path.parent).start()
            except ComponentStartError as exc:
                failed.append(str(exc))
            else:
                restarted.append(process.name)
    return Restart(changed=changed, restarted=restarted, failed=failed)


def watch_and_reload(
    stack: Stack,
    *,
    sources: Callable[[], list[Path]],
    on_reload: Callable[[Restart], None],
    interval_s: float = 0.5,
    settle_s: float = 0.3,
) -> None:
    """Until Ctrl-C: poll the sources; on a change (new, edited or deleted file) restart the functions.

    Polling mtimes rather than inotify: no new dependency, and a person's save rate needs nothing faster.
    `settle_s` lets an editor finish writing (several files, or write-then-rename) before the restart.
    """
    files = sources()
    seen = fingerprint(files)
    try:
        while True:
            time.sleep(interval_s)
            files = sources()
            now = fingerprint(files)
            if now == seen:
                continue
            time.sleep(settle_s)
            now = fingerprint(sources())
            changed = sorted(path for path in now.keys() | seen.keys() if now.get(path) != seen.get(path))
            seen = now
            on_reload(restart_functions(stack, changed))
    except KeyboardInterrupt:
        return
