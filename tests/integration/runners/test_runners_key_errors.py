"""A wrong, malformed or missing Encord key: one line on stderr naming the variable and the fix, exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from encord_emulator.auth import generate_private_key
from encord_emulator.testing import RunningEmulator, run_emulator, write_private_key
from tests.integration.runners.rc_env import PRE_LABEL, PROJECT_HASH, seed

_AGENT = f"""
from runner_core import SequentialRunner

runner = SequentialRunner(project_hash="{PROJECT_HASH}")


@runner.stage("{PRE_LABEL}")
def agent() -> str:
    return "annotate"


runner.run()
"""


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with run_emulator(seed(images=1, second_look_images=1)) as emu:
        yield emu


def _run(tmp_path: Path, emulator: RunningEmulator, **key: str) -> tuple[int, list[str]]:
    agent = tmp_path / "agent.py"
    agent.write_text(_AGENT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCORD_")}
    env.update(ENCORD_DOMAIN=emulator.url, PYTHONPATH=str(Path.cwd()), NO_PROXY="127.0.0.1", **key)
    done = subprocess.run([sys.executable, str(agent)], env=env, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stderr.strip().splitlines()


def test_malformed_key(tmp_path: Path, emulator: RunningEmulator) -> None:
    key = tmp_path / "key.pem"
    key.write_text("not a key\n")
    assert _run(tmp_path, emulator, ENCORD_SSH_KEY_FILE=str(key)) == (
        2,
        [
            "error: ENCORD_SSH_KEY_FILE is not a private key this runner can read; Encord accepts an unencrypted "
            "Ed25519 private key, in OpenSSH or PEM format"
        ],
    )


def test_wrong_key(tmp_path: Path, emulator: RunningEmulator) -> None:
    key = tmp_path / "key.pem"
    write_private_key(key, generate_private_key())  # a valid key the emulator was never told about
    assert _run(tmp_path, emulator, ENCORD_SSH_KEY_FILE=str(key)) == (
        2,
        [
            f"error: Encord ({emulator.url}) rejected the key from ENCORD_SSH_KEY_FILE {key}: add its public key to "
            "your Encord account (`ssh-keygen -y -f KEYFILE` prints it), or set ENCORD_DOMAIN to your account's region"
        ],
    )


def test_missing_key(tmp_path: Path, emulator: RunningEmulator) -> None:
    assert _run(tmp_path, emulator) == (
        2,
        ["error: no Encord key configured: set ENCORD_SSH_KEY (content) or ENCORD_SSH_KEY_FILE (path)"],
    )


def test_a_right_key_runs(tmp_path: Path, emulator: RunningEmulator) -> None:
    key = tmp_path / "key.pem"
    key.write_text(emulator.ssh_key)
    code, _ = _run(tmp_path, emulator, ENCORD_SSH_KEY_FILE=str(key))
    assert code == 0
