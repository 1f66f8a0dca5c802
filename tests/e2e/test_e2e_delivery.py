"""The delivery machinery on its own (no runner): the Lambda SQS mapping's rules through the real RIE, the Pub/Sub
bridge's production request through real functions-framework, and process-group shutdown.

The functions here are `delivery_handlers`' tiny handlers, which record every delivery they get.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deploy.local import components
from deploy.local.errors import ComponentStartError
from deploy.local.processes import ManagedProcess, ProcessSpec, session_alive, session_members, tcp_ready
from deploy.local.pubsub import PubSubPushBridge, clients, create_resources, fresh_project_id, publish, pull_all
from deploy.local.sqs import (
    InProcessInvoker,
    Invocation,
    RieInvoker,
    SqsEventSourcePoller,
    create_queues,
    drain_queue,
    failed_message_ids,
    lambda_sqs_event,
    queue_depth,
    sqs_client,
)
from deploy.local.stack import Stack, wait_for

LAMBDA_RECORD_KEYS = {
    "messageId",
    "receiptHandle",
    "body",
    "attributes",
    "messageAttributes",
    "md5OfBody",
    "eventSource",
    "eventSourceARN",
    "awsRegion",
}


def _records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _wait(condition: Callable[[], bool]) -> None:
    wait_for(condition, timeout_s=30.0, what="the deliveries", interval_s=0.1)


# --- partial batch response rules (pure) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("invocation", "expected"),
    [
        (Invocation(payload={"batchItemFailures": []}), set()),
        (Invocation(payload=None), set()),
        (Invocation(payload={"batchItemFailures": None}), set()),
        (Invocation(payload={"batchItemFailures": [{"itemIdentifier": "b"}]}), {"b"}),
        (Invocation(payload={"batchItemFailures": [{"itemIdentifier": ""}]}), {"a", "b", "c"}),
        (Invocation(payload={"batchItemFailures": [{"itemIdentifier": "zzz"}]}), {"a", "b", "c"}),
        (Invocation(payload={"batchItemFailures": [{"wrongKey": "a"}]}), {"a", "b", "c"}),
        (Invocation(payload={"errorType": "X"}, function_error="X"), {"a", "b", "c"}),
    ],
)
def test_failed_records_follow_the_partial_batch_rules(invocation: Invocation, expected: set[str]) -> None:
    assert failed_message_ids(invocation, ["a", "b", "c"]) == expected


# --- SQS through the RIE -----------------------------------------------------------------------------------------


def test_lambda_event_has_the_exact_sqs_record_shape(moto_url: str) -> None:
    sqs = sqs_client(moto_url)
    queues = create_queues(sqs, name=f"shape-{time.time_ns()}", fifo=True)
    sqs.send_message(
        QueueUrl=queues.queue_url,
        MessageBody="hello",
        MessageGroupId="g1",
        MessageDeduplicationId="d1",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "greeting"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    messages = sqs.receive_message(
        QueueUrl=queues.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    event = lambda_sqs_event(messages, queue_arn=queues.queue_arn, region="us-east-1")
    (record,) = event["Records"]
    assert set(record) == LAMBDA_RECORD_KEYS | {"md5OfMessageAttributes"}
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queues.queue_arn
    assert record["attributes"]["MessageGroupId"] == "g1"
    assert record["attributes"]["MessageDeduplicationId"] == "d1"
    assert record["attributes"]["SequenceNumber"].isdigit()
    assert {"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(
        record["attributes"]
    )
    assert record["messageAttributes"] == {
        "kind": {"stringValue": "greeting", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
        "blob": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
    }


# The RIE and functions-framework import `delivery_handlers` by name from this folder.
HANDLERS_DIR = Path(__file__).resolve().parent


def _handler_env(record: Path) -> dict[str, str]:
    pythonpath = os.pathsep.join((str(HANDLERS_DIR), str(components.REPO_ROOT)))
    return {"DELIVERY_RECORD": str(record), "PYTHONPATH": pythonpath}


def _handlers_rie(stack: Stack, record: Path) -> RieInvoker:
    process = stack.start(
        components.lambda_rie(
            handler="delivery_handlers.lambda_handler", env=_handler_env(record), name="delivery-handlers-rie"
        )
    )
    assert process.url is not None
    return RieInvoker(process.url)


def test_poller_deletes_successes_and_redrives_a_failing_record(aws_stack: Stack, tmp_path: Path) -> None:
    record = tmp_path / "deliveries.jsonl"
    sqs = sqs_client(aws_stack.moto_url)
    queues = create_queues(sqs, name=f"partial-{time.time_ns()}", visibility_timeout_s=1, max_receive_count=2)
    for index in range(5):
        sqs.send_message(QueueUrl=queues.queue_url, MessageBody=json.dumps({"id": str(index), "fail": index == 3}))
    invoker = _handlers_rie(aws_stack, record)
    with SqsEventSourcePoller(sqs=sqs, queues=queues, invokers=[invoker]) as poller:
        dead: list[dict[str, Any]] = []

        def done() -> bool:
            dead.extend(drain_queue(sqs, queues.dlq_url, wait_s=0))
            return bool(dead) and queue_depth(sqs, queues.queue_url) == 0

        _wait(done)
    deliveries = _records(record)
    per_id: dict[str, list[int]] = {}
    for delivery in deliveries:
        per_id.setdefault(delivery["id"], []).append(delivery["receive_count"])
    assert {key: counts for key, counts in per_id.items() if key != "3"} == {"0": [1], "1": [1], "2": [1], "4": [1]}
    assert per_id["3"] == [1, 2]  # redelivered after the visibility timeout, then moved by the redrive policy
    assert [json.loads(m["Body"])["id"] for m in dead] == ["3"]
    assert poller.stats.deleted == 4
    assert all(d["remaining_ms"] > 0 for d in deliveries)  # a real LambdaContext with a deadline


def test_with_a_retry_delay_failed_records_return_long_before_the_visibility_timeout(
    aws_stack: Stack, tmp_path: Path
) -> None:
    """The local stack's shortcut: production's long visibility timeout, yet a failed record is retried in seconds."""
    record = tmp_path / "deliveries.jsonl"
    sqs = sqs_client(aws_stack.moto_url)
    queues = create_queues(sqs, name=f"retry-{time.time_ns()}", visibility_timeout_s=600, max_receive_count=2)
    sqs.send_message(QueueUrl=queues.queue_url, MessageBody=json.dumps({"id": "ok"}))
    sqs.send_message(QueueUrl=queues.queue_url, MessageBody=json.dumps({"id": "bad", "fail": True}))
    invoker = _handlers_rie(aws_stack, record)
    with SqsEventSourcePoller(sqs=sqs, queues=queues, invokers=[invoker], retry_delay_s=1) as poller:
        dead: list[dict[str, Any]] = []

        def done() -> bool:  # _wait gives up after 30 s: far less than the 600 s visibility timeout
            dead.extend(drain_queue(sqs, queues.dlq_url, wait_s=0))
            return bool(dead) and queue_depth(sqs, queues.queue_url) == 0

        _wait(done)
    per_id: dict[str, list[int]] = {}
    for delivery in _records(record):
        per_id.setdefault(delivery["id"], []).append(delivery["receive_count"])
    assert per_id == {"ok": [1], "bad": [1, 2]}
    assert [json.loads(m["Body"])["id"] for m in dead] == ["bad"]
    assert poller.stats.errors == []


def test_a_handler_error_fails_the_whole_batch(aws_stack: Stack, tmp_path: Path) -> None:
    record = tmp_path / "deliveries.jsonl"
    sqs = sqs_client(aws_stack.moto_url)
    queues = create_queues(sqs, name=f"error-{time.time_ns()}", visibility_timeout_s=1, max_receive_count=2)
    sqs.send_message_batch(
        QueueUrl=queues.queue_url,
        Entries=[
            {"Id": "0", "MessageBody": json.dumps({"id": "healthy"})},
            {"Id": "1", "MessageBody": json.dumps({"id": "boom", "fail": "raise"})},
        ],
    )
    invoker = _handlers_rie(aws_stack, record)
    poller = SqsEventSourcePoller(sqs=sqs, queues=queues, invokers=[invoker])
    first_batch = poller.poll_once(invoker)
    assert first_batch == 2
    assert poller.stats.function_errors == 1
    assert poller.stats.deleted == 0
    # Nothing was deleted: after the visibility timeout both records are there again.
    _wait(lambda: poller.poll_once(invoker) > 0)
    receive_counts = {d["id"]: d["receive_count"] for d in _records(record) if d["id"] == "healthy"}
    assert receive_counts == {"healthy": 2}


def test_the_poller_can_call_the_handler_in_process(
    moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tmp_path / "deliveries.jsonl"
    monkeypatch.setenv("DELIVERY_RECORD", str(record))
    sqs = sqs_client(moto_url)
    queues = create_queues(sqs, name=f"inproc-{time.time_ns()}", visibility_timeout_s=1, max_receive_count=2)
    sqs.send_message(QueueUrl=queues.queue_url, MessageBody=json.dumps({"id": "a"}))
    sqs.send_message(QueueUrl=queues.queue_url, MessageBody=json.dumps({"id": "b", "fail": True}))
    monkeypatch.syspath_prepend(HANDLERS_DIR)
    handlers = importlib.import_module("delivery_handlers")
    invoker = InProcessInvoker(handlers.lambda_handler, timeout_s=5)
    poller = SqsEventSourcePoller(sqs=sqs, queues=queues, invokers=[invoker])
    _wait(lambda: poller.poll_once(invoker) > 0 and poller.stats.records == 2)
    assert poller.stats.deleted == 1
    assert poller.stats.failed_records == 1
    assert {d["id"] for d in _records(record)} == {"a", "b"}
    assert all(0 < d["remaining_ms"] <= 5000 for d in _records(record))


# --- Pub/Sub through functions-framework ---------------------------------------------------------------------------


def test_bridge_sends_the_eventarc_cloudevent_and_dead_letters_after_max_attempts(
    gcp_stack: Stack, tmp_path: Path
) -> None:
    record = tmp_path / "deliveries.jsonl"
    publisher, subscriber = clients(gcp_stack.pubsub_url)
    resources = create_resources(
        publisher=publisher, subscriber=subscriber, project=fresh_project_id(), name="handlers", max_delivery_attempts=5
    )
    function = gcp_stack.start(
        components.functions_framework(
            target="delivery_handlers:cloudevent_handler",
            source_dir=tmp_path / "src",
            env=_handler_env(record),
        )
    )
    assert function.url is not None
    publish(publisher, resources.topic, [json.dumps({"id": "ok"}), json.dumps({"id": "bad", "fail": True})])
    with PubSubPushBridge(subscriber=subscriber, resources=resources, function_url=function.url) as bridge:
        dead: list[Any] = []

        def dead_lettered() -> bool:
            dead.extend(pull_all(subscriber, resources.dead_letter_subscription, settle_s=0.1))
            return bool(dead)

        _wait(dead_lettered)
    deliveries = _records(record)
    ok = [d for d in deliveries if d["id"] == "ok"]
    bad = [d for d in deliveries if d["id"] == "bad"]
    assert len(ok) == 1
    assert [d["delivery_attempt"] for d in bad] == [1, 2, 3, 4, 5]
    project, topic = resources.topic.split("/")[1], resources.topic.split("/")[-1]
    for delivery in deliveries:
        assert delivery["ce_type"] == "google.cloud.pubsub.topic.v1.messagePublished"
        assert delivery["ce_source"] == f"//pubsub.googleapis.com/projects/{project}/topics/{topic}"
        assert delivery["ce_id"] == delivery["message_id"]
        assert delivery["subscription"] == resources.subscription
    (letter,) = dead
    assert json.loads(letter.message.data)["id"] == "bad"
    assert letter.message.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
    assert bridge.stats.acked == 1
    assert bridge.stats.nacked == 5


# --- process management ------------------------------------------------------------------------------------------


def test_stopping_a_component_ends_everything_it_started(aws_stack: Stack, tmp_path: Path) -> None:
    invoker = _handlers_rie(aws_stack, tmp_path / "deliveries.jsonl")
    # The first invoke makes the RIE start its runtime: a child process in the RIE's group.
    result = invoker({"Records": []})
    assert result.function_error is None
    (rie,) = (p for p in aws_stack.processes if p.name == "delivery-handlers-rie")
    members = session_members(rie.pid)
    assert len(members) >= 2, "the RIE should have started its runtime in its session"
    rie.stop()
    assert not session_alive(rie.pid)
    assert not any(Path(f"/proc/{member}").exists() for member in members)


def test_a_component_that_dies_at_start_reports_its_log(tmp_path: Path) -> None:
    spec = ProcessSpec(
        name="doomed",
        argv=["/bin/sh", "-c", "echo 'cannot bind: address in use' >&2; exit 3"],
        ready=tcp_ready("127.0.0.1", 1),
    )
    with pytest.raises(ComponentStartError, match="exited with code 3") as raised:
        ManagedProcess(spec, log_dir=tmp_path).start()
    assert "cannot bind: address in use" in str(raised.value)
