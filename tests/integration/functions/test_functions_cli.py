"""`runner-core dispatch` (functions.cli:dispatch_app) against the emulator and moto."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from encord_emulator.testing import RunningEmulator
from functions.cli import dispatch_app
from tests.integration.functions import fn_agents
from tests.integration.functions.fn_harness import Moto, drain


def _summary(stdout: str) -> dict[str, object]:
    """The command's JSON summary: its last line (log lines may precede it when a JSON log handler is installed)."""
    summary: dict[str, object] = json.loads(stdout.strip().splitlines()[-1])
    return summary


def test_dispatch_to_sqs_with_a_status_filter(emu: RunningEmulator, moto: Moto) -> None:
    queue_url = str(moto.client("sqs").create_queue(QueueName="cli-tasks")["QueueUrl"])
    cli = CliRunner()
    result = cli.invoke(
        dispatch_app,
        ["--target", fn_agents.TARGET, "--sqs-queue-url", queue_url, "--status", "NEW"],
    )
    assert result.exit_code == 0, result.output
    summary = _summary(result.stdout)
    waiting = len(emu.state.tasks_in_stage(emu.project_hash, "pre-label"))
    assert summary["messages"] == summary["tasks"] == waiting
    assert len(drain(moto.client("sqs"), queue_url)) == waiting

    none = cli.invoke(
        dispatch_app,
        [
            "--target",
            fn_agents.TARGET,
            "--sqs-queue-url",
            queue_url,
            "--status",
            "COMPLETED",
        ],
    )
    assert none.exit_code == 0, none.output
    assert _summary(none.stdout)["messages"] == 0


def test_dispatch_usage_errors(emu: RunningEmulator) -> None:
    cli = CliRunner()
    neither = cli.invoke(dispatch_app, ["--target", fn_agents.TARGET])
    assert neither.exit_code == 2
    assert "give --sqs-queue-url or --pubsub-topic (or --dry-run to only list the messages)" in neither.output
    both = cli.invoke(
        dispatch_app, ["--target", fn_agents.TARGET, "--sqs-queue-url", "q", "--pubsub-topic", "projects/p/topics/t"]
    )
    assert both.exit_code == 2
    assert "give one of --sqs-queue-url and --pubsub-topic, not both" in both.output
    bad_status = cli.invoke(
        dispatch_app,
        [
            "--target",
            fn_agents.TARGET,
            "--pubsub-topic",
            "projects/p/topics/t",
            "--status",
            "DONE",
        ],
    )
    assert bad_status.exit_code == 1
    assert "unknown task status 'DONE'" in bad_status.output
    bad_target = cli.invoke(dispatch_app, ["--target", "nowhere", "--pubsub-topic", "projects/p/topics/t"])
    assert bad_target.exit_code == 1
    assert "not of the form 'package.module:attr'" in bad_target.output
    dry = cli.invoke(
        dispatch_app,
        [
            "--target",
            fn_agents.TARGET,
            "--pubsub-topic",
            "projects/p/topics/t",
            "--dry-run",
            "--tasks-per-message",
            "10",
        ],
    )
    assert dry.exit_code == 0, dry.output
    waiting = len(emu.state.tasks_in_stage(emu.project_hash, "pre-label"))
    assert _summary(dry.stdout) == {"messages": -(-waiting // 10), "tasks": waiting, "dry_run": True}


def test_dry_run_lists_each_message_without_a_queue(emu: RunningEmulator) -> None:
    result = CliRunner().invoke(dispatch_app, ["--target", fn_agents.TARGET, "--dry-run"])
    assert result.exit_code == 0, result.output
    *messages, summary = [json.loads(line) for line in result.stdout.strip().splitlines()]
    waiting = emu.state.tasks_in_stage(emu.project_hash, "pre-label")
    assert summary == {"messages": len(waiting), "tasks": len(waiting), "dry_run": True}
    assert len(messages) == len(waiting)  # SQS sizing without a queue: one task per message
    listed = {task["uuid"] for message in messages for task in message["tasks"]}
    assert listed == set(waiting)
    assert all(task["data_title"] for message in messages for task in message["tasks"])
    assert all(0 < message["bytes"] < 256 * 1024 for message in messages)
