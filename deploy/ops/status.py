"""`runner-core status`: one look at a deployment: tasks waiting in Encord per agent stage, the queue (waiting, in
flight), the dead letters, and (once the task ledger exists) what it knows of the waiting tasks.

Every part is read independently and reported as unavailable with its reason when it cannot be read, so a status
never fails because one source is down.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, Protocol

import typer

from deploy.ops.deployment import Deployment
from deploy.ops.options import (
    AsJson,
    PubSubDeadLetterSubscription,
    PubSubSubscription,
    PubSubTopic,
    SqsDlqUrl,
    SqsQueueUrl,
    TerraformDir,
    TerraformOutputs,
    deployment_or_exit,
)

DEAD_LETTER_COUNT_LIMIT = 1000  # Pub/Sub: dead letters are counted by reading them (then released), up to this


@dataclass(frozen=True, slots=True)
class StageStatus:
    project: str
    stage_uuid: str
    stage: str
    waiting: int


@dataclass(slots=True)
class Status:
    cloud: str
    stages: list[StageStatus] = field(default_factory=list)
    queue: dict[str, int | None] = field(default_factory=dict)
    dead_letters: int | None = None
    ledger: dict[str, int] | None = None
    unavailable: dict[str, str] = field(default_factory=dict)  # part -> why it could not be read


class LedgerView(Protocol):
    """The hook for the task ledger: counts, by ledger state, of the tasks waiting in the agent stages (e.g.
    queued / running / done / failed / unseen). None of this exists before the ledger does; `status` then reports
    `ledger: null`."""

    def counts(self, stages: Sequence[Any]) -> Mapping[str, int]: ...


def _encord_stages(target: str) -> tuple[list[StageStatus], list[Any]]:
    from functions.target import load_runner
    from runner_core.producer import list_waiting_tasks

    runner = load_runner(target)
    waiting = list_waiting_tasks(runner)
    project = str(getattr(runner, "project_hash", "") or "")
    stages = [
        StageStatus(project=project, stage_uuid=str(s.stage.uuid), stage=s.stage.title, waiting=len(s.tasks))
        for s in waiting
    ]
    return stages, waiting


def _sqs_queue(deployment: Deployment) -> dict[str, int | None]:
    from functions.publishers.sqs import sqs_client

    assert deployment.queue_url is not None
    attributes = sqs_client().get_queue_attributes(
        QueueUrl=deployment.queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return {
        "waiting": int(attributes["ApproximateNumberOfMessages"]),
        "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        "delayed": int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    }


def _dead_letters(deployment: Deployment) -> int | None:
    from deploy.ops.sources import dead_letter_source

    source = dead_letter_source(deployment)
    count = source.approximate_count()
    if count is None:  # Pub/Sub: count by reading (every message read is released again)
        count = len(source.peek(limit=DEAD_LETTER_COUNT_LIMIT))
    return count


def collect(deployment: Deployment, *, target: str | None, ledger: LedgerView | None = None) -> Status:
    status = Status(cloud=deployment.cloud)
    waiting: list[Any] = []
    if target is None:
        status.unavailable["stages"] = "give --target pkg.module:runner to count the tasks waiting in Encord"
    else:
        try:
            status.stages, waiting = _encord_stages(target)
        except Exception as exc:  # reported, the other parts still shown
            status.unavailable["stages"] = f"{type(exc).__name__}: {exc}"[:300]
    if deployment.cloud == "aws" and deployment.queue_url:
        try:
            status.queue = _sqs_queue(deployment)
        except Exception as exc:
            status.unavailable["queue"] = f"{type(exc).__name__}: {exc}"[:300]
    elif deployment.cloud == "gcp":
        # A push subscription's backlog is only in Cloud Monitoring (the module's dashboard charts it).
        status.unavailable["queue"] = "Pub/Sub backlog is in Cloud Monitoring: see the module's dashboard"
    else:
        status.unavailable["queue"] = "no work queue named (--sqs-queue-url, or outputs with queue_url)"
    try:
        status.dead_letters = _dead_letters(deployment)
    except Exception as exc:
        status.unavailable["dead_letters"] = f"{type(exc).__name__}: {exc}"[:300]
    if ledger is not None and waiting:
        status.ledger = dict(ledger.counts(waiting))
    return status


def _text(status: Status) -> str:
    lines = [f"cloud: {status.cloud}"]
    if status.stages:
        lines.append("waiting in Encord:")
        lines += [f"  {s.stage} ({s.stage_uuid}): {s.waiting}" for s in status.stages]
    if status.queue:
        lines.append("queue: " + ", ".join(f"{name} {value}" for name, value in status.queue.items()))
    if status.dead_letters is not None:
        hint = "  (runner-core dlq show, then dlq redrive)" if status.dead_letters else ""
        lines.append(f"dead letters: {status.dead_letters}{hint}")
    if status.ledger is not None:
        lines.append("ledger: " + ", ".join(f"{name} {value}" for name, value in status.ledger.items()))
    lines += [f"{part}: unavailable ({why})" for part, why in status.unavailable.items()]
    return "\n".join(lines)


def status(
    target: Annotated[
        str | None,
        typer.Option("--target", help="The runner, as package.module:attr (for the tasks waiting in Encord)."),
    ] = None,
    terraform_dir: TerraformDir = None,
    terraform_outputs: TerraformOutputs = None,
    sqs_queue_url: SqsQueueUrl = None,
    sqs_dlq_url: SqsDlqUrl = None,
    pubsub_topic: PubSubTopic = None,
    pubsub_subscription: PubSubSubscription = None,
    pubsub_dead_letter_subscription: PubSubDeadLetterSubscription = None,
    as_json: AsJson = False,
) -> None:
    """Tasks waiting per agent stage in Encord, the queue's depth and in-flight count, and the dead letters."""
    deployment = deployment_or_exit(
        terraform_dir=terraform_dir,
        terraform_outputs=terraform_outputs,
        sqs_queue_url=sqs_queue_url,
        sqs_dlq_url=sqs_dlq_url,
        pubsub_topic=pubsub_topic,
        pubsub_subscription=pubsub_subscription,
        pubsub_dead_letter_subscription=pubsub_dead_letter_subscription,
    )
    result = collect(deployment, target=target)
    typer.echo(json.dumps(asdict(result)) if as_json else _text(result))
