"""Acceptance: exactly one agent run per task under production-shaped traffic, on both clouds.

A slow (0.3 s), counting, non-idempotent agent; 8 consumer instances (each its own QueueRunner, so only the ledger
can de-duplicate across them) pulling from a real queue; the real producer run 4 times, 1.5 s apart, while tasks are
queued and in flight. Before the ledger this measured 133 agent runs for 60 tasks on SQS and 65 on Pub/Sub.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from deploy.local.seeds import image_project_seed
from encord_emulator.testing import RunningEmulator, run_emulator
from functions import ledgers
from functions.publishers.pubsub import PubSubPublisher
from functions.publishers.sqs import SqsPublisher
from functions.trigger import publish_waiting_tasks
from runner_core.client import clear_client_cache
from runner_core.disposition import Decision
from runner_core.outcomes import QueueMessage
from tests.integration.functions.fn_harness import FirestoreEmulator, Moto, PubSubEmulator
from tests.integration.functions.ledger_harness import STAGE, AgentRuns, Consumers, acked, answers_per_task

TASKS_PER_KIND = 30
CONSUMERS = 8
PRODUCER_RUNS = 4


@pytest.fixture
def project(monkeypatch: pytest.MonkeyPatch) -> Any:
    with run_emulator(image_project_seed(bright=TASKS_PER_KIND, dark=TASKS_PER_KIND)) as emu:
        monkeypatch.setenv("ENCORD_SSH_KEY", emu.ssh_key)
        monkeypatch.setenv("ENCORD_DOMAIN", emu.url)
        monkeypatch.delenv("ENCORD_SSH_KEY_FILE", raising=False)
        clear_client_cache()
        yield emu
        clear_client_cache()


def _drive(emu: RunningEmulator, runs: AgentRuns, publisher: Any, consumers: Consumers, in_queue: Any) -> None:
    waiting = emu.state.tasks_in_stage(emu.project_hash, STAGE)
    assert len(waiting) == 2 * TASKS_PER_KIND
    producer = runs.build_runner(emu.project_hash)
    with consumers:
        for _ in range(PRODUCER_RUNS):
            publish_waiting_tasks(producer, publisher, deadline=time.monotonic() + 10)
            time.sleep(1.5)
        end = time.monotonic() + 90
        while time.monotonic() < end and (emu.state.tasks_in_stage(emu.project_hash, STAGE) or in_queue()):
            time.sleep(0.2)
    assert emu.state.tasks_in_stage(emu.project_hash, STAGE) == []
    assert in_queue() == 0
    # One more producer run finds nothing to publish.
    assert publish_waiting_tasks(producer, publisher, deadline=time.monotonic() + 10).tasks == 0


def _assert_exactly_once(emu: RunningEmulator, runs: AgentRuns, waiting: list[str]) -> None:
    assert runs.total == len(waiting), f"agent runs {runs.total} for {len(waiting)} tasks: {runs.runs.most_common(3)}"
    assert set(runs.runs) == set(waiting)
    answers = answers_per_task(emu)
    assert len(answers) == len(waiting)
    assert set(answers.values()) == {1}  # one label each, never two


def test_sqs_dynamodb_exactly_one_run_per_task(
    project: RunningEmulator, moto: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = project
    sqs = moto.client("sqs")
    queue_url = sqs.create_queue(QueueName="tasks", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    monkeypatch.setenv("RUNNER_LEDGER_TABLE", moto.create_ledger_table())
    monkeypatch.delenv("RUNNER_LEDGER_COLLECTION", raising=False)
    ledgers.clear_cache()
    runs = AgentRuns()
    waiting = emu.state.tasks_in_stage(emu.project_hash, STAGE)

    def receive() -> list[tuple[QueueMessage, Any]]:
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=2, AttributeNames=["All"])
        return [
            (
                QueueMessage(
                    message_id=m["MessageId"],
                    body=m["Body"],
                    attempt=int(m["Attributes"]["ApproximateReceiveCount"]),
                    max_attempts=5,
                ),
                m["ReceiptHandle"],
            )
            for m in received.get("Messages", [])
        ]

    def settle(handle: Any, verdict: Decision) -> None:
        if acked(verdict):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=handle)
        else:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=1)

    def in_queue() -> int:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    consumers = Consumers(
        count=CONSUMERS, runners=lambda: runs.build_runner(emu.project_hash), receive=receive, settle=settle
    )
    _drive(emu, runs, SqsPublisher(queue_url=queue_url), consumers, in_queue)
    _assert_exactly_once(emu, runs, waiting)


def test_pubsub_firestore_exactly_one_run_per_task(
    project: RunningEmulator, pubsub: PubSubEmulator, firestore: FirestoreEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import google.cloud.pubsub_v1 as pubsub_v1

    emu = project
    gcp_project = pubsub.new_project()
    publisher_client, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher_client.create_topic(name=f"projects/{gcp_project}/topics/tasks").name
    subscription = subscriber.create_subscription(
        name=f"projects/{gcp_project}/subscriptions/tasks", topic=topic, ack_deadline_seconds=30
    ).name
    monkeypatch.setenv("RUNNER_LEDGER_COLLECTION", "runner-ledger")
    monkeypatch.delenv("RUNNER_LEDGER_TABLE", raising=False)
    ledgers.clear_cache()
    runs = AgentRuns()
    waiting = emu.state.tasks_in_stage(emu.project_hash, STAGE)
    outstanding: set[str] = set()

    def receive() -> list[tuple[QueueMessage, Any]]:
        response = subscriber.pull(subscription=subscription, max_messages=2, timeout=2)
        received = []
        for item in response.received_messages:
            outstanding.add(item.message.message_id)
            message = QueueMessage(
                message_id=item.message.message_id,
                body=item.message.data,
                attempt=max(1, item.delivery_attempt or 1),
                max_attempts=5,
            )
            received.append((message, (item.message.message_id, item.ack_id)))
        return received

    def settle(handle: Any, verdict: Decision) -> None:
        message_id, ack_id = handle
        if acked(verdict):
            subscriber.acknowledge(subscription=subscription, ack_ids=[ack_id])
            outstanding.discard(message_id)
        else:
            subscriber.modify_ack_deadline(subscription=subscription, ack_ids=[ack_id], ack_deadline_seconds=1)

    consumers = Consumers(
        count=CONSUMERS, runners=lambda: runs.build_runner(emu.project_hash), receive=receive, settle=settle
    )
    _drive(emu, runs, PubSubPublisher(topic=topic), consumers, lambda: len(outstanding))
    _assert_exactly_once(emu, runs, waiting)
