"""The command-line options that name a deployment, shared by `runner-core dlq` and `runner-core status`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deploy.ops.deployment import Deployment, DeploymentError, resolve

TerraformDir = Annotated[
    Path | None,
    typer.Option("--terraform-dir", help="An applied Terraform root: its outputs name the queues / subscriptions."),
]
TerraformOutputs = Annotated[
    Path | None, typer.Option("--terraform-outputs", help="A file holding `terraform output -json`.")
]
SqsQueueUrl = Annotated[str | None, typer.Option("--sqs-queue-url", help="AWS: the work queue URL.")]
SqsDlqUrl = Annotated[str | None, typer.Option("--sqs-dlq-url", help="AWS: the dead-letter queue URL.")]
PubSubTopic = Annotated[str | None, typer.Option("--pubsub-topic", help="GCP: the work topic, projects/P/topics/T.")]
PubSubSubscription = Annotated[
    str | None, typer.Option("--pubsub-subscription", help="GCP: the consumer's subscription (status only).")
]
PubSubDeadLetterSubscription = Annotated[
    str | None,
    typer.Option("--pubsub-dead-letter-subscription", help="GCP: the pull subscription on the dead-letter topic."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def deployment_or_exit(
    *,
    terraform_dir: Path | None,
    terraform_outputs: Path | None,
    sqs_queue_url: str | None,
    sqs_dlq_url: str | None,
    pubsub_topic: str | None,
    pubsub_subscription: str | None,
    pubsub_dead_letter_subscription: str | None,
) -> Deployment:
    try:
        return resolve(
            terraform_dir=terraform_dir,
            terraform_outputs_file=terraform_outputs,
            sqs_queue_url=sqs_queue_url,
            sqs_dlq_url=sqs_dlq_url,
            pubsub_topic=pubsub_topic,
            pubsub_subscription=pubsub_subscription,
            pubsub_dead_letter_subscription=pubsub_dead_letter_subscription,
        )
    except DeploymentError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
