"""What AWS's and GCP's plumbing would do in production: turn real queue messages into handler events."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from awslambdaric.lambda_context import LambdaContext

from runner_core.messages import decode_message
from runner_core.producer import OutboundMessage

if TYPE_CHECKING:
    import pytest


def lambda_context(remaining_s: float = 60.0) -> LambdaContext:
    """awslambdaric's own LambdaContext, as the Lambda runtime builds it."""
    deadline_ms = int((time.time() + remaining_s) * 1000)
    return LambdaContext("8f5e1b7c-req", None, None, deadline_ms, "arn:aws:lambda:us-east-1:123456789012:function:fn")


def stop_process_group(process: subprocess.Popen[bytes], *, timeout_s: float) -> None:
    """Stop a server started with `start_new_session=True`: SIGTERM its group (by PID), SIGKILL it if it lingers."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def install_failure_pathway_runner(monkeypatch: pytest.MonkeyPatch, *, project_hash: str, max_attempts: int) -> None:
    """RUNNER_TARGET becomes a runner that sends a task along `skip` once its last delivery attempt fails."""
    # Imported here: fn_agents builds its module-level runner from the environment when first imported.
    from functions import target
    from tests.integration.functions import fn_agents

    monkeypatch.setitem(target._loaded, fn_agents.TARGET, fn_agents.build_runner(project_hash, failure_pathway="skip"))
    monkeypatch.setenv("RUNNER_MAX_ATTEMPTS", str(max_attempts))


def queue_arn(sqs: Any, queue_url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def receive_event(sqs: Any, queue_url: str, count: int) -> dict[str, Any]:
    """Receive `count` messages from a real queue and shape them as the Lambda SQS event source mapping does."""
    arn = queue_arn(sqs, queue_url)
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while len(received) < count and time.monotonic() < deadline:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, count - len(received)),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            VisibilityTimeout=60,
        )
        received.extend(response.get("Messages", []))
    assert len(received) == count, f"received {len(received)} of {count} messages"
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            }
            for message in received
        ]
    }


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message currently visible on a queue (with attributes)."""
    found: list[dict[str, Any]] = []
    while True:
        response = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        )
        batch = response.get("Messages", [])
        if not batch:
            return found
        found.extend(batch)


def title_of(message: OutboundMessage) -> str:
    (task,) = decode_message(message.body).tasks
    return str(task.data_title)


def task_uuid_of(body: str | bytes) -> str:
    (task,) = decode_message(body).tasks
    return str(task.uuid)


def bad_bodies(project_hash: str) -> dict[str, str]:
    """Three bodies broken in different ways."""
    return {
        "not_json": "this is {not json",
        "wrong_schema": json.dumps({"version": 1, "project_hash": project_hash, "stage_uuid": "nope", "tasks": 3}),
        "unknown_stage": json.dumps(
            {
                "version": 1,
                "project_hash": project_hash,
                "stage_uuid": "00000000-0000-4000-8000-0000000000ff",
                "tasks": [
                    {
                        "uuid": "00000000-0000-4000-8000-000000000abc",
                        "data_hash": "00000000-0000-4000-8000-000000000def",
                    }
                ],
            }
        ),
    }


@dataclass
class Moto:
    url: str

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1")

    def reset(self) -> None:
        requests.post(f"{self.url}/moto-api/reset", timeout=5).raise_for_status()

    def create_ledger_table(self, name: str = "runner-ledger") -> str:
        dynamodb = self.client("dynamodb")
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
        )
        return name


@dataclass
class FirestoreEmulator:
    host: str

    def new_project(self) -> str:
        return f"ledger-test-{uuid.uuid4().hex[:10]}"


@dataclass
class PubSubEmulator:
    host: str

    def new_project(self) -> str:
        return f"fn-test-{uuid.uuid4().hex[:10]}"
