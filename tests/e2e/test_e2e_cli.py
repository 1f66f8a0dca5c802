"""`runner-core local up|status|down` and `runner-core local demo` as a person runs them (subprocesses)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from deploy.local import components
from deploy.local.encord import EmulatorControl
from deploy.local.errors import ComponentUnavailableError
from deploy.local.processes import session_alive
from deploy.local.seeds import DEMO_PROJECT_HASH


def local(*args: str, cwd: Path, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy.local.cli", *args],
        cwd=cwd,
        env=components.python_env(),  # what the console script gets: the repo importable, no proxy for loopback
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@pytest.fixture
def rie_installed() -> None:
    try:
        components.find_rie()
    except ComponentUnavailableError as exc:
        pytest.skip(str(exc))


@pytest.mark.usefixtures("rie_installed")
@pytest.mark.timeout(120)
def test_up_status_down_manage_exactly_the_started_processes(tmp_path: Path) -> None:
    started = local("up", "--no-gcp", cwd=tmp_path)
    assert started.returncode == 0, started.stdout + started.stderr
    state = json.loads((tmp_path / ".runner-core" / "local" / "state.json").read_text())
    pids = [int(c["pid"]) for c in state["components"]]
    try:
        names = {c["name"] for c in state["components"]}
        assert {"encord-emulator", "moto", "lambda-consume-0", "sqs-event-source-mapping", "lambda-dispatch"} <= names
        assert all(session_alive(pid) for pid in pids)
        assert local("status", cwd=tmp_path).returncode == 0

        # The stack outlived `up`: the producer enqueues, the deliverer and consumers move the tasks.
        session = requests.Session()
        session.trust_env = False
        dispatched = session.post(state["paths"]["aws"]["dispatch_url"], json={}, timeout=60).json()
        assert dispatched["tasks"] == 28
        control = EmulatorControl(state["encord"]["ENCORD_DOMAIN"])
        deadline = time.monotonic() + 60
        while control.stage_counts(DEMO_PROJECT_HASH)["pre-label"] and time.monotonic() < deadline:
            time.sleep(0.3)
        assert control.stage_counts(DEMO_PROJECT_HASH)["pre-label"] == 0
    finally:
        stopped = local("down", cwd=tmp_path)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not any(session_alive(pid) for pid in pids)
    assert not (tmp_path / ".runner-core" / "local" / "state.json").exists()
    assert local("status", cwd=tmp_path).returncode == 1


@pytest.mark.usefixtures("rie_installed")
@pytest.mark.timeout(180)
def test_demo_command_runs_both_paths_and_writes_a_report(tmp_path: Path) -> None:
    done = local("demo", cwd=tmp_path, timeout_s=170)
    assert done.returncode == 0, done.stdout + done.stderr
    (report,) = (tmp_path / ".runner-core" / "runs").glob("*/report.html")
    page = report.read_text()
    assert "AWS: SQS -&gt; Lambda" in page
    try:
        components.find_java()
        components.find_pubsub_emulator_jar()
    except ComponentUnavailableError:
        assert "skipped" in page
    else:
        assert "GCP: Pub/Sub -&gt; Cloud Functions" in page
    # Every one of the 28 tasks has a card under each path that ran: labelled, and in the stage its label's pathway
    # names; no failure section.
    cards = [
        dict(re.findall(r"<tr><th>(\w+)</th><td[^>]*>([^<]*)</td></tr>", card)) for card in page.split("<article")[1:]
    ]
    assert len(cards) == 28 * page.count('<section class="run"')
    routes = {(card["labels"], card["stage"]) for card in cards}
    assert routes == {("brightness: bright", "pre-label → Annotate"), ("brightness: dark", "pre-label → Complete")}
    assert 'id="failures"' not in page
