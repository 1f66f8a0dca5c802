"""Fetch encord-agents' sdist and run its own integration tests, unmodified, against our emulator.

Nothing of theirs is kept in this repository: the sdist (and the pytest release their dev dependencies pin, which
their class-level fixtures need) are fetched through pip into a cache directory, the `tests/` tree is extracted
into a temporary directory per run, and their pytest runs in a subprocess with `encord_agents_peer_plugin`,
which starts the emulator and points the SDK at it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PEER = "encord-agents==0.2.10"
# Their `dev` dependency group's test runner: their class-scoped `@classmethod @pytest.fixture` set-ups are not
# discovered by pytest 9, which the rest of our suite uses.
PEER_PYTEST = "pytest>=8.3.3,<9"
SUITES = ("tests/integration_tests/tasks", "tests/integration_tests/core")
# The run's counts, for the terminal summary (tests/peer/conftest.py).
PEER_SUMMARY = pytest.StashKey[str]()


class PeerSuiteError(RuntimeError):
    """The peer suite could not be fetched or run (not: some of its tests failed)."""


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise PeerSuiteError(f"`pip {' '.join(args)}` failed ({done.returncode}):\n{done.stderr[-2000:]}")


def fetch_sdist(cache: Path) -> Path:
    """The encord-agents sdist, downloaded by pip into `cache` on first use."""
    target = cache / "sdist"
    found = sorted(target.glob("encord_agents-*.tar.gz"))
    if not found:
        _pip("download", "--no-deps", "--no-binary", ":all:", PEER, "--dest", str(target))
        found = sorted(target.glob("encord_agents-*.tar.gz"))
    if len(found) != 1:
        raise PeerSuiteError(f"expected one encord-agents sdist in {target}, found {[p.name for p in found]}")
    return found[0]


def fetch_pytest(cache: Path) -> Path:
    """A directory holding their pytest release (pip --target, no dependencies: ours satisfy them)."""
    target = cache / "pytest8"
    if not (target / "pytest").is_dir():
        _pip("install", "--quiet", "--no-deps", "--target", str(target), PEER_PYTEST)
    return target


def extract_tests(sdist: Path, dest: Path) -> Path:
    """Their `tests/` tree (only), extracted under `dest`; returns `dest`."""
    with tarfile.open(sdist) as archive:
        root = archive.getnames()[0].split("/")[0]
        members = []
        for member in archive.getmembers():
            if member.name.startswith(f"{root}/tests/") and (member.isfile() or member.isdir()):
                member.name = member.name.removeprefix(f"{root}/")
                members.append(member)
        archive.extractall(dest, members=members, filter="data")
    # Their pyproject's pytest options (coverage, pytest-env) are not part of the tests: an empty config instead.
    (dest / "pytest.ini").write_text("[pytest]\naddopts =\n", encoding="utf-8")
    return dest


@dataclass(frozen=True)
class PeerRun:
    outcomes: dict[str, str]  # node id -> passed | failed | skipped | xfailed | xpassed
    not_implemented: dict[str, int]  # emulator routes that answered 501, with counts
    returncode: int
    output: str

    def count(self, outcome: str) -> int:
        return sum(1 for value in self.outcomes.values() if value == outcome)

    def summary(self) -> str:
        kinds = ("passed", "failed", "xfailed", "xpassed", "skipped")
        return ", ".join(f"{self.count(kind)} {kind}" for kind in kinds if self.count(kind) or kind != "xpassed")


def run_peer_suite(*, cache: Path, workdir: Path, timeout_s: float = 900) -> PeerRun:
    root = extract_tests(fetch_sdist(cache), workdir)
    pytest_dir = fetch_pytest(cache)
    results = workdir / "peer-results.json"
    env = {
        **os.environ,
        # Their pytest first, then this directory (the plugin), then this repository (the emulator).
        "PYTHONPATH": os.pathsep.join([str(pytest_dir), str(HERE), str(REPO)]),
        "PEER_RESULTS": str(results),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    for name in ("ENCORD_SSH_KEY", "ENCORD_SSH_KEY_FILE", "ENCORD_DOMAIN", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "encord_agents_peer_plugin",
        "-p",
        "no:cacheprovider",
        "-q",
        "-W",
        "ignore::DeprecationWarning",
        *SUITES,
    ]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)
    if not results.exists():
        tail = (done.stdout + done.stderr)[-6000:]
        raise PeerSuiteError(f"the peer suite wrote no results (exit {done.returncode}):\n{tail}")
    data = json.loads(results.read_text(encoding="utf-8"))
    return PeerRun(
        outcomes=data["outcomes"],
        not_implemented=data["not_implemented"],
        returncode=done.returncode,
        output=done.stdout + done.stderr,
    )
