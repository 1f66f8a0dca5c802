"""`runner-core dlq redrive` killed halfway (SIGKILL: no cleanup runs) loses nothing: every dead letter is in the
work queue / topic, or still in the dead letters once its lease ends; a second redrive finishes the job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.local.pubsub import clients, emulator_host, fresh_project_id, publish, pull_all
from deploy.local.sqs import aws_env, create_queues, drain_queue, sqs_client
from deploy.ops.pubsub_dlq import PubSubDeadLetters
from deploy.ops.sqs_dlq import SqsDeadLetters

REPO_ROOT = Path(__file__).resolve().parents[2]
LETTERS = 40
SQS_LEASE_S = 3  # how long the killed redrive's messages stay hidden (its --lease-s)
PUBSUB_LEASE_S = 10  # the dead-letter subscription's ack deadline: Pub/Sub's shortest


def bodies() -> list[str]:
    return [json.dumps({"letter": index, "nonce": uuid.uuid4().hex}) for index in range(LETTERS)]


def start_redrive(flags: list[str], env: dict[str, str], *, lease_s: int) -> subprocess.Popen[str]:
    argv = [sys.executable, "-c", "from deploy.cli import main; main()", "dlq", "redrive", *flags]
    # Paced, so that the kill lands while messages are still being moved.
    argv += ["--batch-size", "4", "--max-per-second", "8", "--lease-s", str(lease_s)]
    return subprocess.Popen(
        argv,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: we kill exactly what we started
    )


def kill_after_first_progress(process: subprocess.Popen[str]) -> str:
    assert process.stderr is not None
    line = process.stderr.readline()
    os.killpg(process.pid, signal.SIGKILL)
    assert line.startswith("redriven "), line
    return line


def finish(flags: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", "from deploy.cli import main; main()", "dlq", "redrive", *flags],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


@pytest.fixture
def killed_processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=10)  # reaps it and closes its pipes


@pytest.mark.timeout(120)
def test_sqs_redrive_killed_halfway_loses_nothing(moto_url: str, killed_processes: list[Any]) -> None:
    sqs = sqs_client(moto_url)
    queues = create_queues(sqs, name=f"redrive-{uuid.uuid4().hex[:6]}", max_receive_count=3)
    sent = bodies()
    for body in sent:
        attributes = {"runner_failure_reason": {"DataType": "String", "StringValue": "agent raised"}}
        sqs.send_message(QueueUrl=queues.dlq_url, MessageBody=body, MessageAttributes=attributes)
    flags = ["--sqs-dlq-url", queues.dlq_url, "--sqs-queue-url", queues.queue_url]
    env = aws_env(moto_url)

    process = start_redrive(flags, env, lease_s=SQS_LEASE_S)
    killed_processes.append(process)
    kill_after_first_progress(process)

    moved_before_kill = [m["Body"] for m in drain_queue(sqs, queues.queue_url, wait_s=0)]
    assert 0 < len(moved_before_kill) < LETTERS, "the kill must land halfway"
    # What the killed process held comes back to the dead-letter queue when its lease ends.
    time.sleep(SQS_LEASE_S + 1)
    left = SqsDeadLetters(client=sqs, dlq_url=queues.dlq_url, queue_url=None).peek(limit=LETTERS)
    assert {m.body.decode() for m in left} | set(moved_before_kill) == set(sent)  # nothing lost
    assert len(left) + len(moved_before_kill) <= LETTERS + 4  # at most the batch in flight is duplicated

    report = finish(flags, env)
    assert report["moved"] == len(left)
    moved_after = [m["Body"] for m in drain_queue(sqs, queues.queue_url, wait_s=0)]
    assert set(moved_before_kill) | set(moved_after) == set(sent)
    redriven = drain_queue(sqs, queues.queue_url, wait_s=0) + drain_queue(sqs, queues.dlq_url, wait_s=0)
    assert redriven == []  # the dead-letter queue is empty


@pytest.mark.timeout(120)
def test_pubsub_redrive_killed_halfway_loses_nothing(pubsub_url: str, killed_processes: list[Any]) -> None:
    publisher, subscriber = clients(pubsub_url)
    project = fresh_project_id()
    topic = publisher.topic_path(project, "work")
    dead_topic = publisher.topic_path(project, "work-dead-letter")
    work_sub = subscriber.subscription_path(project, "work-read")
    dead_sub = subscriber.subscription_path(project, "work-dead-letter-read")
    publisher.create_topic(request={"name": topic})
    publisher.create_topic(request={"name": dead_topic})
    subscriber.create_subscription(request={"name": work_sub, "topic": topic, "ack_deadline_seconds": 60})
    dead_subscription = {"name": dead_sub, "topic": dead_topic, "ack_deadline_seconds": PUBSUB_LEASE_S}
    subscriber.create_subscription(request=dead_subscription)
    sent = bodies()
    publish(publisher, dead_topic, sent, attributes={"runner_failure_reason": "agent raised"})
    flags = ["--pubsub-dead-letter-subscription", dead_sub, "--pubsub-topic", topic]
    env = {"PUBSUB_EMULATOR_HOST": emulator_host(pubsub_url)}

    process = start_redrive(flags, env, lease_s=PUBSUB_LEASE_S)
    killed_processes.append(process)
    kill_after_first_progress(process)

    moved_before_kill = [bytes(m.message.data).decode() for m in pull_all(subscriber, work_sub)]
    assert 0 < len(moved_before_kill) < LETTERS, "the kill must land halfway"
    time.sleep(PUBSUB_LEASE_S + 1)
    reader = PubSubDeadLetters(subscriber=subscriber, publisher=publisher, subscription=dead_sub, topic=None)
    left = reader.peek(limit=LETTERS)
    assert {m.body.decode() for m in left} | set(moved_before_kill) == set(sent)  # nothing lost

    report = finish(flags, env)
    assert report["moved"] == len(left)
    moved_after = pull_all(subscriber, work_sub)
    assert set(moved_before_kill) | {bytes(m.message.data).decode() for m in moved_after} == set(sent)
    assert all(m.message.attributes["runner_redrive_count"] == "1" for m in moved_after)
    assert all("runner_failure_reason" not in m.message.attributes for m in moved_after)
    assert pull_all(subscriber, dead_sub) == []
