"""A flaky Encord: 20% of API and media requests answered 429 or 503, and latency spikes. 200 tasks plus planted
poison messages still end with every task moved exactly once and every poison message dead-lettered with a reason,
nothing lost, and no temporary file left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local.seeds import expected_stage, image_project_seed, write_seed
from deploy.local.stack import FAILURE_REASON_ATTRIBUTE, Stack
from deploy.local.testing import agent_stage_uuid, poison_bodies, start_path, task_envelope

TASKS = 200

# The functions load the test agent (tests/e2e/e2e_agents.py) from this folder.
E2E_DIR = Path(__file__).resolve().parent
TEST_AGENT = "e2e_agents:runner"


@pytest.mark.timeout(180)
def test_two_hundred_tasks_survive_a_flaky_encord(cloud_stack: tuple[str, Stack]) -> None:
    cloud, stack = cloud_stack
    temp_root = stack.run_dir / "function-temp"
    temp_root.mkdir(parents=True)
    seed = write_seed(image_project_seed(bright=TASKS // 2, dark=TASKS // 2, size=16), stack.run_dir / "seed.yaml")
    run = start_path(
        stack,
        cloud,
        seed=seed,
        target=TEST_AGENT,
        pythonpath=(E2E_DIR,),
        # Enough attempts that a retryable failure is retried rather than dead-lettered; temp files where we look.
        max_attempts=10,
        instances=4,  # Lambda instances: batches wait on the SDK's back-offs, not on the CPU
        gcp_concurrency=8,  # one task per Pub/Sub message: more requests in flight hide the SDK's back-offs
        extra_env={"RUNNER_TEMP_DIR": str(temp_root)},
    )
    tasks = run.tasks()
    assert len(tasks) == TASKS
    stage_uuid = agent_stage_uuid(run.control, run.project_hash)
    poison = poison_bodies(run, stage_uuid)

    run.control.set_faults(rate_429=0.1, rate_503=0.1, latency_ms=5, latency_jitter_ms=150, seed=20)
    healthy = [task_envelope(run, stage_uuid, t) for t in tasks]
    # Poison spread through the healthy messages.
    bodies: list[str] = []
    poison_left = list(poison.values())
    step = len(healthy) // (len(poison_left) + 1)
    for index, body in enumerate(healthy):
        bodies.append(body)
        if index % step == step - 1 and poison_left:
            bodies.append(poison_left.pop())
    bodies += poison_left
    run.send(bodies)

    run.wait_settled(moved={t.task_uuid for t in tasks}, dead_letters=len(poison), timeout_s=150)
    faults_served = run.control.faults_served()
    run.control.set_faults()  # healthy again, so the checks below read the state reliably

    final = {t.task_uuid: t for t in run.tasks()}
    lost = [t.data_title for t in tasks if final[t.task_uuid].stage != expected_stage(t.data_title)]
    assert lost == []
    summary = run.summary()
    assert summary.moved_twice == []
    assert summary.moved == TASKS
    letters = run.dead_letters()
    # Every poison message, and nothing else. (At-least-once: a copy redelivered while in flight may be dead-lettered
    # twice; that loses nothing.)
    assert {letter.body.decode() for letter in letters} == set(poison.values())
    assert all(letter.attributes.get(FAILURE_REASON_ATTRIBUTE) for letter in letters)
    answers = run.answers()
    assert all(len(answers[t.data_hash]) == 1 for t in tasks)
    assert list(temp_root.rglob("*")) == []
    # The faults were real: the emulator answered a good share of the run's requests with them.
    assert faults_served["429"] > 10
    assert faults_served["503"] > 10
