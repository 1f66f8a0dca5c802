"""`runner-core dispatch`: list the tasks waiting in a runner's agent stages and publish them to SQS or Pub/Sub."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from runner_core.cli_app import typer_app

if TYPE_CHECKING:
    from encord.workflow.stages.agent import AgentTaskStatus

    from functions.publishers import Publisher
    from runner_core.protocols import TaskSource

dispatch_app = typer_app(
    name="dispatch",
    help="Publish the tasks waiting in the runner's agent stages to an SQS queue or a Pub/Sub topic.",
    no_args_is_help=True,
)


@dispatch_app.command()
def dispatch(
    target: Annotated[
        str, typer.Option("--target", help="The runner, as package.module:attr.", envvar="RUNNER_TARGET")
    ],
    sqs_queue_url: Annotated[
        str | None, typer.Option("--sqs-queue-url", help="SQS queue URL (.fifo for FIFO).")
    ] = None,
    pubsub_topic: Annotated[
        str | None, typer.Option("--pubsub-topic", help="Pub/Sub topic, projects/P/topics/T.")
    ] = None,
    status: Annotated[
        list[str] | None, typer.Option("--status", help="Only tasks with this status (repeatable): NEW, RELEASED...")
    ] = None,
    tasks_per_message: Annotated[
        int | None,
        typer.Option("--tasks-per-message", min=1, help="Tasks per Pub/Sub message (default 10; SQS: always 1)."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="List the messages (one JSON line each) and publish nothing; no queue needed (sizes as for SQS, or "
            "Pub/Sub with --pubsub-topic).",
        ),
    ] = False,
) -> None:
    # Imports inside the command: `runner-core --help` must not pay for boto3 or google-cloud-pubsub.
    from functions.errors import FunctionsError
    from functions.target import load_runner
    from functions.trigger import parse_statuses, publish_waiting_tasks
    from runner_core.errors import RunnerCoreError

    if sqs_queue_url is not None and pubsub_topic is not None:
        raise typer.BadParameter("give one of --sqs-queue-url and --pubsub-topic, not both")
    if not dry_run and sqs_queue_url is None and pubsub_topic is None:
        raise typer.BadParameter("give --sqs-queue-url or --pubsub-topic (or --dry-run to only list the messages)")
    try:
        statuses = parse_statuses(status or [])
        runner = load_runner(target)
        if dry_run:
            _list_messages(
                runner, statuses=statuses, pubsub=pubsub_topic is not None, tasks_per_message=tasks_per_message
            )
            return
        summary = publish_waiting_tasks(
            runner, _publisher(sqs_queue_url, pubsub_topic, tasks_per_message), statuses=statuses
        )
    except (FunctionsError, RunnerCoreError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(json.dumps(summary.as_dict()))


def _publisher(sqs_queue_url: str | None, pubsub_topic: str | None, tasks_per_message: int | None) -> Publisher:
    if sqs_queue_url is not None:
        from functions.publishers.sqs import SqsPublisher

        return SqsPublisher(queue_url=sqs_queue_url)
    from functions.publishers.pubsub import DEFAULT_TASKS_PER_MESSAGE, PubSubPublisher

    assert pubsub_topic is not None
    return PubSubPublisher(topic=pubsub_topic, tasks_per_message=tasks_per_message or DEFAULT_TASKS_PER_MESSAGE)


def _list_messages(
    runner: TaskSource, *, statuses: list[AgentTaskStatus], pubsub: bool, tasks_per_message: int | None
) -> None:
    """One JSON line per message that would be sent, then the totals: what a real dispatch would publish."""
    from functions.publishers import pubsub as pubsub_transport
    from functions.publishers import sqs as sqs_transport
    from runner_core.producer import build_messages

    messages = build_messages(
        runner,
        statuses=statuses or None,
        tasks_per_message=(tasks_per_message or pubsub_transport.DEFAULT_TASKS_PER_MESSAGE) if pubsub else 1,
        max_bytes=pubsub_transport.MAX_BODY_BYTES if pubsub else sqs_transport.MAX_BODY_BYTES,
    )
    for message in messages:
        tasks = [
            {"uuid": task.get("uuid"), "data_title": task.get("data_title")}
            for task in json.loads(message.body).get("tasks", [])
        ]
        line = {"stage_uuid": str(message.stage_uuid), "tasks": tasks, "bytes": len(message.body.encode())}
        typer.echo(json.dumps(line))
    summary = {"messages": len(messages), "tasks": sum(m.task_count for m in messages), "dry_run": True}
    typer.echo(json.dumps(summary))
