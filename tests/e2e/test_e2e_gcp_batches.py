"""GCP at AWS parity: the demo project through both paths with default settings (GCP: the push subscription's body
to functions.gcp.consume_http, 10 tasks per message), Encord requests counted by the emulator; and a batch in which
one task keeps failing retryably: only that task comes back, until it is dead-lettered with its reason."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from deploy.local.seeds import DEMO_SEED
from deploy.local.stack import Stack
from deploy.local.testing import PathRun, start_path

E2E_DIR = Path(__file__).parent
FAILING = "bright-03.png"
MAX_ATTEMPTS = 5  # Pub/Sub's smallest max_delivery_attempts


def _requests_per_task(run: PathRun) -> float:
    tasks = run.tasks()
    run.control.reset(state=False, requests=True, faults=False)
    assert run.path.dispatch()["tasks"] == len(tasks)
    run.wait_settled(moved={t.task_uuid for t in tasks}, dead_letters=0, timeout_s=90)
    return run.control.api_requests() / len(tasks)


@pytest.mark.timeout(180)
def test_gcp_costs_encord_at_most_1_2x_the_requests_per_task_of_aws(
    aws_stack: Stack, pubsub_url: str, tmp_path: Path
) -> None:
    aws = _requests_per_task(start_path(aws_stack, "aws", seed=DEMO_SEED))
    with Stack(run_dir=tmp_path / "run-gcp", pubsub_url=pubsub_url) as gcp_stack:  # its own Encord emulator
        gcp = _requests_per_task(start_path(gcp_stack, "gcp", seed=DEMO_SEED))
    assert gcp <= 1.2 * aws, f"GCP {gcp:.2f} vs AWS {aws:.2f} Encord requests per task"


@pytest.mark.timeout(180)
def test_a_task_failing_in_a_batch_comes_back_alone_until_dead_lettered(gcp_stack: Stack, tmp_path: Path) -> None:
    calls = tmp_path / "agent-calls.txt"
    calls.touch()
    run = start_path(
        gcp_stack,
        "gcp",
        seed=DEMO_SEED,
        target="batch_agents:runner",
        pythonpath=[E2E_DIR],
        max_attempts=MAX_ATTEMPTS,
        extra_env={"E2E_AGENT_CALLS": str(calls), "E2E_FAILING_TITLE": FAILING},
    )
    tasks = {t.data_title: t for t in run.tasks()}
    failing = tasks.pop(FAILING)

    run.path.dispatch()
    run.wait_settled(moved={t.task_uuid for t in tasks.values()}, dead_letters=1, timeout_s=120)

    (letter,) = run.dead_letters()
    assert [task["uuid"] for task in json.loads(letter.body)["tasks"]] == [failing.task_uuid]
    assert f"planted failure for {FAILING}" in str(letter.reason)
    assert letter.attributes["runner_attempt"] == str(MAX_ATTEMPTS)
    assert {t.task_uuid: t.stage for t in run.tasks()}[failing.task_uuid] == "pre-label"
    ran = Counter(calls.read_text().split())
    assert ran.pop(FAILING) == MAX_ATTEMPTS
    assert ran == dict.fromkeys(tasks, 1), "each sibling's agent ran exactly once"
    summary = run.summary()
    assert summary.moved_twice == []
    assert summary.skipped == 0, "no sibling was delivered again"
    assert summary.failed_attempts == MAX_ATTEMPTS
