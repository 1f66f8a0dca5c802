"""`runner-core dlq` on the local stack: a broken agent fills the dead letters, `dlq show` names the tasks and the
reason, the agent is fixed, `dlq redrive` puts the messages back and the tasks move, once each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from deploy.cli import _mount, app
from deploy.local.pubsub import emulator_host
from deploy.local.seeds import expected_stage, image_project_seed, write_seed
from deploy.local.sqs import aws_env
from deploy.local.stack import AwsPath, GcpPath, Stack
from deploy.local.testing import PathRun, agent_stage_uuid, start_path
from deploy.ops.pubsub_dlq import PubSubDeadLetters
from deploy.ops.sqs_dlq import SqsDeadLetters
from functions.publishers import pubsub as pubsub_publisher
from tests.e2e.dlq_agents import BROKEN_REASON, FIXED_FLAG_ENV

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parents[1]


def deployment_flags(run: PathRun) -> list[str]:
    if isinstance(run.path, AwsPath):
        assert run.path.queues is not None
        return ["--sqs-dlq-url", run.path.queues.dlq_url, "--sqs-queue-url", run.path.queues.queue_url]
    assert isinstance(run.path, GcpPath)
    assert run.path.resources is not None
    resources = run.path.resources
    return ["--pubsub-dead-letter-subscription", resources.dead_letter_subscription, "--pubsub-topic", resources.topic]


def cli_env(run: PathRun) -> dict[str, str]:
    """The real command talks to the local emulators the way it talks to a cloud: through the SDKs' own variables."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    if isinstance(run.path, AwsPath):
        env.update(aws_env(run.stack.moto_url))
    else:
        env["PUBSUB_EMULATOR_HOST"] = emulator_host(run.stack.pubsub_url)
    return env


def runner_core_in_process(*args: str, run: PathRun, monkeypatch: pytest.MonkeyPatch) -> Result:
    """The same command in this process (a CLI process costs seconds of imports on a loaded machine)."""
    for name, value in cli_env(run).items():
        if name not in ("PYTHONPATH",) and os.environ.get(name) != value:
            monkeypatch.setenv(name, value)
    if not app.registered_groups:
        _mount()
    try:
        return CliRunner().invoke(app, list(args), catch_exceptions=False)
    finally:
        pubsub_publisher.reset_client()  # the command's cached client is bound to this test's emulator


def runner_core(*args: str, env: dict[str, str], timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", "from deploy.cli import main; main()", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)


def dead_lettered_tasks(run: PathRun) -> set[str]:
    """The task uuids the dead letters name, read in this process (polled: a CLI process per poll is slow)."""
    source: SqsDeadLetters | PubSubDeadLetters
    if isinstance(run.path, AwsPath):
        assert run.path.queues is not None
        source = SqsDeadLetters(client=run.path.sqs, dlq_url=run.path.queues.dlq_url, queue_url=None)
    else:
        assert isinstance(run.path, GcpPath)
        assert run.path.resources is not None
        subscription = run.path.resources.dead_letter_subscription
        source = PubSubDeadLetters(
            subscriber=run.path.subscriber, publisher=run.path.publisher, subscription=subscription, topic=None
        )
    return {task.task_uuid for letter in source.peek(limit=100) for task in letter.tasks()[0]}


@pytest.mark.timeout(180)
def test_broken_agent_dead_letters_then_redrive_moves_every_task(
    cloud_stack: tuple[str, Stack], monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud, stack = cloud_stack
    flag = stack.run_dir / "agent-fixed"
    seed = write_seed(image_project_seed(bright=3, dark=2), stack.run_dir / "seed.yaml")
    run = start_path(
        stack,
        cloud,
        seed=seed,
        target="dlq_agents:runner",
        pythonpath=(E2E_DIR,),
        extra_env={FIXED_FLAG_ENV: str(flag)},
        max_attempts=2,
        instances=1,
    )
    stage_uuid = agent_stage_uuid(run.control, run.project_hash)
    tasks = run.tasks()
    run.path.dispatch()
    everyone = {task.task_uuid for task in tasks}
    run.wait_until(lambda: dead_lettered_tasks(run) == everyone, timeout_s=90, what="every task to be dead-lettered")
    assert all(task.stage == "pre-label" for task in run.tasks())

    shown = runner_core_in_process("dlq", "show", "--json", *deployment_flags(run), run=run, monkeypatch=monkeypatch)
    assert shown.exit_code == 0, shown.output
    messages = json.loads(shown.stdout)["messages"]
    named = {task["task"]: task for message in messages for task in message["tasks"]}
    assert named.keys() == {task.task_uuid for task in tasks}
    for task in tasks:
        assert named[task.task_uuid]["data_title"] == task.data_title
        assert named[task.task_uuid]["stage"] == stage_uuid
    for message in messages:
        assert BROKEN_REASON in message["reason"], message
        assert message["failure_attributes"]["runner_failure_reason"] == message["reason"]
    text = runner_core_in_process("dlq", "show", *deployment_flags(run), run=run, monkeypatch=monkeypatch)
    assert all(task.data_title in text.stdout for task in tasks), text.stdout

    flag.touch()  # the fix: then the real command, in its own process, as an operator runs it
    redriven = runner_core("dlq", "redrive", *deployment_flags(run), env=cli_env(run))
    assert redriven.returncode == 0, redriven.stderr
    report = json.loads(redriven.stdout)
    # A delivery redelivered while still running (a loaded machine outlasting the visibility timeout) can be
    # dead-lettered twice: every copy goes back, and the task still moves once. (A Pub/Sub message holds up to 10
    # tasks: the count is of messages.)
    assert report["moved"] >= len(messages)
    assert (report["failed"], report["errors"]) == (0, [])

    run.wait_settled(moved={task.task_uuid for task in tasks}, dead_letters=0, timeout_s=60)
    final = {task.task_uuid: task.stage for task in run.tasks()}
    assert final == {task.task_uuid: expected_stage(task.data_title) for task in tasks}
    assert run.dead_letters() == []
    summary = run.summary()
    assert summary.moved == len(tasks)
    assert summary.moved_twice == []
