"""Which queues and topics a deployment uses: from Terraform's outputs (the modules' and examples' output names) or
from flags. One place, so `dlq` and `status` name a deployment the same way."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal


class DeploymentError(Exception):
    """The deployment cannot be named from what was given (which flag or output is missing, and why)."""


@dataclass(frozen=True, slots=True)
class Deployment:
    """The transport resources of one deployed agent. AWS uses the queue URLs; GCP the topic and subscriptions."""

    cloud: Literal["aws", "gcp"]
    queue_url: str | None = None
    dead_letter_queue_url: str | None = None
    topic: str | None = None
    subscription: str | None = None
    dead_letter_subscription: str | None = None


# Output names of terraform/modules/* and terraform/examples/*.
_AWS_OUTPUTS = {"queue_url": "queue_url", "dead_letter_queue_url": "dead_letter_queue_url"}
_GCP_OUTPUTS = {
    "topic": "topic_id",
    "subscription": "subscription_id",
    "dead_letter_subscription": "dead_letter_subscription_id",
}


def read_outputs_file(path: Path) -> dict[str, object]:
    """The JSON of `terraform output -json` saved to a file: `{name: {"value": ...}}`."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DeploymentError(f"cannot read Terraform outputs from {path}: {exc}") from None
    return _values(raw, where=str(path))


def terraform_outputs(directory: Path) -> dict[str, object]:
    """Run `terraform output -json` in an applied root module."""
    terraform = shutil.which("terraform")
    if terraform is None:
        raise DeploymentError("terraform is not on the PATH: pass the queues as flags, or --terraform-outputs FILE")
    env = {**os.environ, "CHECKPOINT_DISABLE": "1"}
    done = subprocess.run(
        [terraform, f"-chdir={directory}", "output", "-json"], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise DeploymentError(f"terraform output failed in {directory}: {done.stderr.strip()[:500]}")
    try:
        raw = json.loads(done.stdout or "{}")
    except ValueError as exc:
        raise DeploymentError(f"terraform output -json printed no JSON: {exc}") from None
    return _values(raw, where=str(directory))


def _values(raw: object, *, where: str) -> dict[str, object]:
    if not isinstance(raw, Mapping):
        raise DeploymentError(f"Terraform outputs in {where} are not a JSON object")
    return {
        str(name): entry.get("value") if isinstance(entry, Mapping) and "value" in entry else entry
        for name, entry in raw.items()
    }


def from_outputs(outputs: Mapping[str, object]) -> Deployment:
    """AWS when the outputs name SQS queues, GCP when they name Pub/Sub resources."""

    def pick(names: Mapping[str, str]) -> dict[str, str]:
        return {field: str(outputs[name]) for field, name in names.items() if outputs.get(name)}

    aws, gcp = pick(_AWS_OUTPUTS), pick(_GCP_OUTPUTS)
    if aws and not gcp:
        return Deployment(cloud="aws", **aws)
    if gcp and not aws:
        return Deployment(cloud="gcp", **gcp)
    wanted = ", ".join([*_AWS_OUTPUTS.values(), *_GCP_OUTPUTS.values()])
    found = "both clouds'" if aws and gcp else "none"
    raise DeploymentError(f"Terraform outputs name {found} of the expected outputs ({wanted})")


def resolve(
    *,
    terraform_dir: Path | None = None,
    terraform_outputs_file: Path | None = None,
    sqs_queue_url: str | None = None,
    sqs_dlq_url: str | None = None,
    pubsub_topic: str | None = None,
    pubsub_subscription: str | None = None,
    pubsub_dead_letter_subscription: str | None = None,
) -> Deployment:
    """Flags win over outputs, field by field (e.g. outputs for the queues, a flag for another DLQ)."""
    if terraform_dir is not None and terraform_outputs_file is not None:
        raise DeploymentError("give --terraform-dir or --terraform-outputs, not both")
    base: Deployment | None = None
    if terraform_dir is not None:
        base = from_outputs(terraform_outputs(terraform_dir))
    elif terraform_outputs_file is not None:
        base = from_outputs(read_outputs_file(terraform_outputs_file))
    aws_flags = {"queue_url": sqs_queue_url, "dead_letter_queue_url": sqs_dlq_url}
    gcp_flags = {
        "topic": pubsub_topic,
        "subscription": pubsub_subscription,
        "dead_letter_subscription": pubsub_dead_letter_subscription,
    }
    aws_given = {k: v for k, v in aws_flags.items() if v}
    gcp_given = {k: v for k, v in gcp_flags.items() if v}
    if aws_given and gcp_given:
        raise DeploymentError("give SQS flags or Pub/Sub flags, not both")
    if base is None:
        if aws_given:
            return Deployment(cloud="aws", **aws_given)
        if gcp_given:
            return Deployment(cloud="gcp", **gcp_given)
        raise DeploymentError(
            "name the deployment: --terraform-dir DIR, --terraform-outputs FILE, "
            "--sqs-dlq-url/--sqs-queue-url, or --pubsub-dead-letter-subscription/--pubsub-topic"
        )
    given = aws_given or gcp_given
    if given and (base.cloud == "aws") != bool(aws_given):
        raise DeploymentError(f"the Terraform outputs describe a {base.cloud} deployment; the flags another cloud")
    return replace(
        base,
        queue_url=sqs_queue_url or base.queue_url,
        dead_letter_queue_url=sqs_dlq_url or base.dead_letter_queue_url,
        topic=pubsub_topic or base.topic,
        subscription=pubsub_subscription or base.subscription,
        dead_letter_subscription=pubsub_dead_letter_subscription or base.dead_letter_subscription,
    )
