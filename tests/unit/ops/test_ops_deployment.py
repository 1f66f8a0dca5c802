"""Naming a deployment from Terraform outputs and flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy.ops.deployment import Deployment, DeploymentError, from_outputs, read_outputs_file, resolve
from deploy.ops.redrive import Pacer

AWS_OUTPUTS = {"queue_url": "https://sqs/q", "dead_letter_queue_url": "https://sqs/q-dlq", "webhook_url": None}
GCP_OUTPUTS = {
    "topic_id": "projects/p/topics/t",
    "subscription_id": "projects/p/subscriptions/t-consumer",
    "dead_letter_subscription_id": "projects/p/subscriptions/t-dead-letter",
}


def test_outputs_of_each_module_name_their_cloud() -> None:
    assert from_outputs(AWS_OUTPUTS) == Deployment(
        cloud="aws", queue_url="https://sqs/q", dead_letter_queue_url="https://sqs/q-dlq"
    )
    gcp = from_outputs(GCP_OUTPUTS)
    assert (gcp.cloud, gcp.topic, gcp.dead_letter_subscription) == (
        "gcp",
        "projects/p/topics/t",
        "projects/p/subscriptions/t-dead-letter",
    )


@pytest.mark.parametrize("outputs", [{}, {**AWS_OUTPUTS, **GCP_OUTPUTS}])
def test_outputs_naming_no_cloud_or_both_are_refused(outputs: dict[str, object]) -> None:
    with pytest.raises(DeploymentError, match="expected outputs"):
        from_outputs(outputs)


def test_an_outputs_file_is_read_and_flags_win(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({name: {"value": value, "type": "string"} for name, value in AWS_OUTPUTS.items()}))
    assert read_outputs_file(path)["queue_url"] == "https://sqs/q"
    deployment = resolve(terraform_outputs_file=path, sqs_dlq_url="https://sqs/other-dlq")
    assert deployment.queue_url == "https://sqs/q"
    assert deployment.dead_letter_queue_url == "https://sqs/other-dlq"
    with pytest.raises(DeploymentError, match="another cloud"):
        resolve(terraform_outputs_file=path, pubsub_topic="projects/p/topics/t")


def test_flags_alone_and_what_is_refused(tmp_path: Path) -> None:
    assert resolve(sqs_dlq_url="https://sqs/d").cloud == "aws"
    assert resolve(pubsub_dead_letter_subscription="projects/p/subscriptions/d").cloud == "gcp"
    with pytest.raises(DeploymentError, match="name the deployment"):
        resolve()
    with pytest.raises(DeploymentError, match="not both"):
        resolve(sqs_dlq_url="https://sqs/d", pubsub_topic="projects/p/topics/t")
    with pytest.raises(DeploymentError, match="cannot read"):
        resolve(terraform_outputs_file=tmp_path / "missing.json")


def test_pacer_batches_at_most_one_seconds_allowance() -> None:
    assert Pacer(None).batch_size(10) == 10
    assert Pacer(3).batch_size(10) == 3
    assert Pacer(0.5).batch_size(10) == 1
    with pytest.raises(ValueError, match="positive"):
        Pacer(0)
