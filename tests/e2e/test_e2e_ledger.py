"""Production traffic through each cloud path with its task ledger: a slow agent on 4 consumer instances (separate
Lambda RIE processes on AWS; 8 concurrent requests on GCP) and the producer function run 4 times while tasks are
queued and in flight -> every task published once, one agent run per task, each moved once, nothing dead-lettered."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local.demo import RepeatedProducer
from deploy.local.seeds import expected_stage, image_project_seed, write_seed
from deploy.local.stack import Stack
from deploy.local.testing import start_path

E2E_DIR = Path(__file__).resolve().parent
TEST_AGENT = "e2e_agents:runner"


@pytest.mark.timeout(240)
def test_repeated_producer_runs_cost_one_agent_run_per_task(cloud_stack: tuple[str, Stack]) -> None:
    cloud, stack = cloud_stack
    seed = write_seed(image_project_seed(bright=15, dark=15, size=16), stack.run_dir / "seed.yaml")
    run = start_path(
        stack,
        cloud,
        seed=seed,
        target=TEST_AGENT,
        pythonpath=(E2E_DIR,),
        instances=4,
        gcp_concurrency=8,
        ledger=True,
        extra_env={"E2E_AGENT_SECONDS": "0.3"},
    )
    tasks = run.tasks()

    producer = RepeatedProducer(run.path, runs=4, interval_s=1.0)
    producer.start()
    producer.join()
    run.wait_settled(moved={t.task_uuid for t in tasks}, dead_letters=0, timeout_s=150)

    summary = run.summary()
    assert producer.runs == 4
    assert producer.published == len(tasks)  # later runs found every task queued, running or done
    assert summary.agent_runs == len(tasks)
    assert summary.moved_twice == []
    final = {t.task_uuid: t for t in run.tasks()}
    for task in tasks:
        assert final[task.task_uuid].stage == expected_stage(task.data_title)
    assert run.dead_letters() == []
