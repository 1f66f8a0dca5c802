"""`runner-core dispatch`: list the tasks waiting in a runner's agent stages and publish them to SQS or Pub/Sub."""

from __future__ import annotations

import json
from typing import Annotated

import typer

dispatch_app = typer.Typer(
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
        int, typer.Option("--tasks-per-message", min=1, help="Tasks per Pub/Sub message (SQS: always 1).")
    ] = 1,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List and build the messages, publish nothing.")] = False,
) -> None:
    # Imports inside the command: `runner-core --help` must not pay for boto3 or google-cloud-pubsub.
    from functions.errors import FunctionsError
    from functions.publishers import Publisher
    from functions.target import load_runner
    from functions.trigger import parse_statuses, publish_waiting_tasks

    if (sqs_queue_url is None) == (pubsub_topic is None):
        raise typer.BadParameter("give exactly one of --sqs-queue-url and --pubsub-topic")
    try:
        statuses = parse_statuses(status or [])
        runner = load_runner(target)
        publisher: Publisher
        if sqs_queue_url is not None:
            from functions.publishers.sqs import SqsPublisher

            publisher = SqsPublisher(queue_url=sqs_queue_url)
        else:
            from functions.publishers.pubsub import PubSubPublisher

            assert pubsub_topic is not None
            publisher = PubSubPublisher(topic=pubsub_topic, tasks_per_message=tasks_per_message)
        if dry_run:
            from runner_core.producer import build_messages

            messages = build_messages(
                runner,
                statuses=statuses or None,
                tasks_per_message=publisher.tasks_per_message,
                max_bytes=publisher.max_message_bytes,
            )
            summary = {"messages": len(messages), "tasks": sum(m.task_count for m in messages), "dry_run": True}
        else:
            summary = publish_waiting_tasks(runner, publisher, statuses=statuses).as_dict()
    except FunctionsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(json.dumps(summary))
