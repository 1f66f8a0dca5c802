"""The size contract at its boundary: the largest body a transport's producer may build travels through the real
queue (moto's SQS, Google's Pub/Sub emulator) and the consumer of that transport runs its task; one byte more is
refused by the producer, and a body above the transport's own limit is dead-lettered by the consumer."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from encord.workflow.stages.agent import AgentTask

from encord_emulator.testing import RunningEmulator
from functions import aws
from functions.publishers import pubsub as pubsub_limits
from functions.publishers import sqs
from functions.publishers.pubsub import PubSubPublisher
from functions.publishers.sqs import SqsPublisher
from runner_core.messages import task_payload
from runner_core.producer import MessageTooLargeError, OutboundMessage, messages_for_tasks
from tests.integration.functions import fn_agents
from tests.integration.functions.fn_harness import PubSubEmulator, lambda_context, receive_event, task_uuid_of
from tests.unit.functions._functions_fakes import ff_client
from tests.unit.functions.test_functions_gcp_consume import SOURCE


def _waiting_task(emu: RunningEmulator) -> tuple[AgentTask, Any]:
    runner = fn_agents.build_runner(emu.project_hash)
    stage = next(iter(runner.get_agent_stages()))
    task = next(t for t in stage.get_tasks() if str(t.data_title).startswith("bright"))
    return task, stage.uuid


def _message_of_size(emu: RunningEmulator, *, size: int, max_bytes: int) -> OutboundMessage:
    """A one-task message whose body is exactly `size` bytes (the task's title is padded), built by the producer."""
    task, stage_uuid = _waiting_task(emu)
    bare = next(messages_for_tasks(project_hash=emu.project_hash, stage_uuid=stage_uuid, tasks=[task]))
    padded = task.model_copy(update={"data_title": str(task.data_title) + "x" * (size - len(bare.body.encode()))})
    assert len(json.dumps(task_payload(padded))) > len(json.dumps(task_payload(task)))
    (message,) = messages_for_tasks(
        project_hash=emu.project_hash, stage_uuid=stage_uuid, tasks=[padded], max_bytes=max_bytes
    )
    return message


@pytest.mark.parametrize("limit", [sqs.MAX_BODY_BYTES, pubsub_limits.MAX_BODY_BYTES], ids=["sqs", "pubsub"])
def test_the_producer_refuses_one_byte_over_its_transports_body_limit(emu: RunningEmulator, limit: int) -> None:
    assert len(_message_of_size(emu, size=limit, max_bytes=limit).body.encode()) == limit
    with pytest.raises(MessageTooLargeError, match=str(limit)):
        _message_of_size(emu, size=limit + 1, max_bytes=limit)


def test_the_largest_sqs_body_the_producer_builds_is_run_by_the_sqs_consumer(emu: RunningEmulator, moto: Any) -> None:
    client = moto.client("sqs")
    queue_url = str(
        client.create_queue(QueueName="size-contract", Attributes={"MaximumMessageSize": str(sqs.MAX_MESSAGE_BYTES)})[
            "QueueUrl"
        ]
    )
    message = _message_of_size(emu, size=sqs.MAX_BODY_BYTES, max_bytes=SqsPublisher(queue_url).max_message_bytes)
    report = SqsPublisher(queue_url, client=client).publish([message])
    assert (report.published, report.failed) == (1, 0), report.errors

    response = aws.consume(receive_event(client, queue_url, 1), lambda_context())

    assert response == {"batchItemFailures": []}
    assert emu.state.task_stage(task_uuid_of(message.body)) == "Annotate"


def test_an_sqs_body_over_the_transports_limit_fails_permanently(emu: RunningEmulator, moto: Any) -> None:
    client = moto.client("sqs")
    queue_url = str(
        client.create_queue(QueueName="oversized", Attributes={"MaximumMessageSize": str(1024 * 1024)})["QueueUrl"]
    )
    message = _message_of_size(emu, size=sqs.MAX_MESSAGE_BYTES + 1, max_bytes=sqs.MAX_MESSAGE_BYTES + 1)
    client.send_message(QueueUrl=queue_url, MessageBody=message.body)

    event = receive_event(client, queue_url, 1)
    response = aws.consume(event, lambda_context())

    # No DLQ configured: the message is reported failed, so the redrive policy takes it; its task never ran.
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert emu.state.task_stage(task_uuid_of(message.body)) == "pre-label"


def test_the_largest_pubsub_body_the_producer_builds_is_run_by_the_push_consumer(
    emu: RunningEmulator, pubsub: PubSubEmulator
) -> None:
    import grpc  # type: ignore[import-untyped]
    from google.cloud import pubsub_v1
    from google.pubsub_v1.services.subscriber.transports.grpc import SubscriberGrpcTransport

    project = pubsub.new_project()
    topic, subscription = f"projects/{project}/topics/size", f"projects/{project}/subscriptions/size-pull"
    publisher_client = pubsub_v1.PublisherClient()
    # gRPC's default 4 MB receive limit is below Pub/Sub's 10 MB message (push deliveries have no such limit).
    channel = grpc.insecure_channel(pubsub.host, options=[("grpc.max_receive_message_length", 16 * 1024 * 1024)])
    subscriber = pubsub_v1.SubscriberClient(transport=SubscriberGrpcTransport(channel=channel))
    publisher_client.create_topic(name=topic)
    subscriber.create_subscription(request={"name": subscription, "topic": topic})
    limit = PubSubPublisher(topic).max_message_bytes
    message = _message_of_size(emu, size=pubsub_limits.MAX_BODY_BYTES, max_bytes=limit)
    report = PubSubPublisher(topic).publish([message])
    assert (report.published, report.failed) == (1, 0), report.errors
    (received,) = subscriber.pull(subscription=subscription, max_messages=1, timeout=30).received_messages
    subscriber.close()
    assert len(received.message.data) == pubsub_limits.MAX_BODY_BYTES

    push = {
        "message": {
            "data": base64.b64encode(received.message.data).decode(),
            "attributes": dict(received.message.attributes),
            "messageId": received.message.message_id,
        },
        "subscription": subscription,
        "deliveryAttempt": 1,
    }
    response = ff_client(SOURCE, "consume_http", "http").post("/", json=push)

    assert response.status_code == 204
    assert emu.state.task_stage(task_uuid_of(message.body)) == "Annotate"
