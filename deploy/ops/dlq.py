"""`runner-core dlq list|show|redrive`: read a deployment's dead letters and put them back once the cause is fixed.

Reading never consumes: messages read are made visible again (SQS) or nacked (Pub/Sub) before the command ends.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from deploy.ops.deployment import DeploymentError
from deploy.ops.letters import DeadLetter
from deploy.ops.options import (
    AsJson,
    PubSubDeadLetterSubscription,
    PubSubTopic,
    SqsDlqUrl,
    SqsQueueUrl,
    TerraformDir,
    TerraformOutputs,
    deployment_or_exit,
)
from deploy.ops.redrive import DeadLetterSource, Pacer, RedriveReport
from runner_core.cli_app import typer_app

app = typer_app(
    name="dlq",
    help="List, show and redrive a deployment's dead letters (SQS dead-letter queue or Pub/Sub dead-letter topic).",
    no_args_is_help=True,
)

Limit = Annotated[int, typer.Option("--limit", min=1, help="Read at most this many messages.")]


def _source(
    terraform_dir: TerraformDir,
    terraform_outputs: TerraformOutputs,
    sqs_queue_url: SqsQueueUrl,
    sqs_dlq_url: SqsDlqUrl,
    pubsub_topic: PubSubTopic,
    pubsub_dead_letter_subscription: PubSubDeadLetterSubscription,
    lease_s: int = 60,
) -> DeadLetterSource:
    from deploy.ops.sources import dead_letter_source

    deployment = deployment_or_exit(
        terraform_dir=terraform_dir,
        terraform_outputs=terraform_outputs,
        sqs_queue_url=sqs_queue_url,
        sqs_dlq_url=sqs_dlq_url,
        pubsub_topic=pubsub_topic,
        pubsub_subscription=None,
        pubsub_dead_letter_subscription=pubsub_dead_letter_subscription,
    )
    try:
        return dead_letter_source(deployment, lease_s=lease_s)
    except DeploymentError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None


def _summary(letter: DeadLetter) -> dict[str, object]:
    tasks, error = letter.tasks()
    return {
        "message_id": letter.message_id,
        "reason": letter.reason,
        "tasks": len(tasks),
        "undecodable": error,
    }


def _details(letter: DeadLetter) -> dict[str, object]:
    tasks, error = letter.tasks()
    return {
        "message_id": letter.message_id,
        "reason": letter.reason,
        "failure_attributes": letter.failure_attributes,
        "undecodable": error,
        "tasks": [
            {"task": t.task_uuid, "data_title": t.data_title, "stage": t.stage_uuid, "project": t.project_hash}
            for t in tasks
        ],
    }


def _clip(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@app.command("list")
def list_letters(
    terraform_dir: TerraformDir = None,
    terraform_outputs: TerraformOutputs = None,
    sqs_queue_url: SqsQueueUrl = None,
    sqs_dlq_url: SqsDlqUrl = None,
    pubsub_topic: PubSubTopic = None,
    pubsub_dead_letter_subscription: PubSubDeadLetterSubscription = None,
    limit: Limit = 100,
    as_json: AsJson = False,
) -> None:
    """One line per dead letter: its id, how many tasks it names, and why it failed."""
    source = _source(
        terraform_dir, terraform_outputs, sqs_queue_url, sqs_dlq_url, pubsub_topic, pubsub_dead_letter_subscription
    )
    approximate = source.approximate_count()
    letters = source.peek(limit=limit)
    if as_json:
        typer.echo(json.dumps({"approximate_count": approximate, "messages": [_summary(x) for x in letters]}))
        return
    shown = f"{len(letters)} shown" + (f" of about {approximate}" if approximate is not None else "")
    typer.echo(f"{source.description}: {shown}")
    for letter in letters:
        summary = _summary(letter)
        what = f"{summary['tasks']} task(s)" if summary["undecodable"] is None else "undecodable"
        typer.echo(f"  {letter.message_id}  {what:<12}  {_clip(letter.reason)}")


@app.command("show")
def show_letters(
    terraform_dir: TerraformDir = None,
    terraform_outputs: TerraformOutputs = None,
    sqs_queue_url: SqsQueueUrl = None,
    sqs_dlq_url: SqsDlqUrl = None,
    pubsub_topic: PubSubTopic = None,
    pubsub_dead_letter_subscription: PubSubDeadLetterSubscription = None,
    message_id: Annotated[
        list[str] | None, typer.Option("--message-id", help="Only this message (repeatable).")
    ] = None,
    limit: Limit = 20,
    as_json: AsJson = False,
) -> None:
    """Each dead letter's tasks (data title, stage) and the failure attributes the consumer and transport added."""
    source = _source(
        terraform_dir, terraform_outputs, sqs_queue_url, sqs_dlq_url, pubsub_topic, pubsub_dead_letter_subscription
    )
    # A filter by id still has to read past the others: read more than `limit` then.
    letters = source.peek(limit=limit if not message_id else max(limit, 1000))
    if message_id:
        letters = [letter for letter in letters if letter.message_id in set(message_id)]
    letters = letters[:limit]
    if as_json:
        typer.echo(json.dumps({"messages": [_details(letter) for letter in letters]}))
        return
    typer.echo(f"{source.description}: {len(letters)} message(s)")
    for letter in letters:
        typer.echo(f"\nmessage {letter.message_id}")
        typer.echo(f"  reason: {letter.reason}")
        for name, value in letter.failure_attributes.items():
            typer.echo(f"  {name}: {_clip(value, 200)}")
        tasks, error = letter.tasks()
        if error:
            typer.echo(f"  undecodable body: {error}")
        for task in tasks:
            typer.echo(f"  task {task.task_uuid}  {task.data_title or '(no title)'}  stage {task.stage_uuid}")


@app.command("redrive")
def redrive(
    terraform_dir: TerraformDir = None,
    terraform_outputs: TerraformOutputs = None,
    sqs_queue_url: SqsQueueUrl = None,
    sqs_dlq_url: SqsDlqUrl = None,
    pubsub_topic: PubSubTopic = None,
    pubsub_dead_letter_subscription: PubSubDeadLetterSubscription = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Move at most this many messages.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=10, help="Messages per round trip.")] = 10,
    max_per_second: Annotated[
        float | None, typer.Option("--max-per-second", min=0.01, help="Pace the redrive (default: no limit).")
    ] = None,
    keep_history: Annotated[
        bool,
        typer.Option("--keep-history", help="Keep the earlier failure reasons on the message as runner_previous_*."),
    ] = False,
    lease_s: Annotated[
        int, typer.Option("--lease-s", min=1, max=43200, help="SQS: how long a message being moved stays hidden.")
    ] = 60,
) -> None:
    """Put dead letters back on the work queue / topic. Each is stored there before it leaves the dead letters: an
    interrupted redrive loses nothing (at worst a message is in both, and the runner skips the duplicate)."""
    source = _source(
        terraform_dir, terraform_outputs, sqs_queue_url, sqs_dlq_url, pubsub_topic, pubsub_dead_letter_subscription,
        lease_s=lease_s,
    )  # fmt: skip

    def progress(report: RedriveReport) -> None:
        typer.echo(f"redriven {report.moved}, failed {report.failed}", err=True)

    try:
        report = source.redrive(
            limit=limit,
            batch_size=batch_size,
            pacer=Pacer(max_per_second),
            keep_history=keep_history,
            progress=progress,
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(json.dumps(report.as_dict()))
    if report.failed:
        raise typer.Exit(code=1)
