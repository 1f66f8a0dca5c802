"""Load the agent the way the deployed function will, in a subprocess, before anything is written or started.

The build's check process sees only the artifact's own tree: `python -S` (no site-packages of this venv), the
working directory an empty scratch folder, and a PYTHONPATH of (1) our packages and the agent as packed, (2) the
pinned distributions, linked from this environment (the very versions the artifact pins; their Linux wheels for
another Python cannot load here), (3) what the cloud's runtime provides (boto3 on Lambda). A module the agent
imports but did not declare is therefore missing here too. The network is refused inside the check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

from deploy.build.archive import ArchiveEntry
from deploy.build.errors import AgentCheckError

_TIMEOUT_S = 120
_KEPT_ENV = ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR")


def stage_code(entries: Iterable[ArchiveEntry], dest: Path) -> Path:
    """Lay out `entries` (our packages, the agent) under `dest`, as they will be in the artifact."""
    for entry in entries:
        target = dest / entry.arcname
        target.parent.mkdir(parents=True, exist_ok=True)
        if entry.source is not None:
            target.symlink_to(entry.source.resolve())
        else:
            target.write_bytes(entry.read())
    return dest


def link_distributions(dists: Mapping[str, metadata.Distribution], dest: Path) -> Path:
    """A folder of links to the top-level files of `dists` (a site-packages holding exactly those)."""
    dest.mkdir(parents=True, exist_ok=True)
    for dist in dists.values():
        for file in dist.files or []:
            top = Path(file).parts[0]
            if top.startswith("..") or top.endswith(".pth") or (dest / top).exists():
                continue
            source = Path(str(dist.locate_file(top)))
            if source.exists():
                (dest / top).symlink_to(source)
    return dest


def check_in_artifact(target: str, *, python_path: list[Path], cwd: Path) -> list[str]:
    """Run the check with only `python_path` importable; return the stages, or raise AgentCheckError.

    Paths under `python_path[0]` (the staged code) are reported as in the artifact: `my_agent/agent.py:7`.
    """
    env = {k: v for k, v in os.environ.items() if k in _KEPT_ENV}
    env |= {"PYTHONPATH": os.pathsep.join(str(p) for p in python_path), "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        return _run([sys.executable, "-S", "-m", "functions._preflight", target], env=env, cwd=cwd)
    except AgentCheckError as exc:
        raise AgentCheckError(str(exc).replace(f"{python_path[0]}{os.sep}", "")) from None


def check_in_environment(target: str, *, env: Mapping[str, str], cwd: Path) -> list[str]:
    """The local stack's check: this interpreter and `env`, as `runner-core local up` starts its functions."""
    return _run([sys.executable, "-m", "functions._preflight", target], env=dict(env), cwd=cwd)


def _run(command: list[str], *, env: dict[str, str], cwd: Path) -> list[str]:
    try:
        done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise AgentCheckError(f"loading the agent took over {_TIMEOUT_S} s; does it do work at import?") from None
    answer = _last_json_line(done.stdout)
    if answer is None:
        detail = (done.stderr or done.stdout).strip()[-1500:]
        raise AgentCheckError(f"the agent check exited {done.returncode} without an answer:\n{detail}")
    if not answer.get("ok"):
        raise AgentCheckError(str(answer.get("error")))
    stages = answer.get("stages")
    return [str(stage) for stage in stages] if isinstance(stages, list) else []


def _last_json_line(stdout: str) -> dict[str, object] | None:
    # The agent may print at import; the check's answer is its last line.
    for line in reversed(stdout.strip().splitlines()):
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict) and "ok" in parsed:
            return parsed
    return None
