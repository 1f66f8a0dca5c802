"""A body that breaks the decoder (deep nesting, a huge integer, wrong types) fails its own message only: it is
dead-lettered with its reason, and its batch-mates (and, on FIFO, the other groups) run as usual. On GCP it is
dead-lettered and acked, never nacked. Odd transport fields (non-dict SQS attributes, deliveryAttempt "²") are read
as absent."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from encord_emulator.testing import RunningEmulator
from functions import aws
from runner_core.producer import OutboundMessage, build_messages
from tests.integration.functions import fn_agents
from tests.integration.functions.fn_harness import (
    PubSubEmulator,
    drain,
    lambda_context,
    receive_event,
    task_uuid_of,
    title_of,
)
from tests.integration.functions.test_functions_gcp_integration import SOURCE, _Topics
from tests.unit.functions._functions_fakes import ff_client

GOOD = [f"bright-{i:02d}.png" for i in range(6)]
POISON_REASONS = {
    "deep_nesting": "nested too deeply",
    "huge_integer": "not decodable JSON",
    "wrong_types_envelope": "envelope.project_hash must be a UUID string",
    "wrong_types_task": "message[0].uuid must be a UUID string",
}


def _poison() -> dict[str, str]:
    return {
        "deep_nesting": "[" * 1000 + "]" * 1000,
        "huge_integer": '{"version": ' + "9" * 4400 + "}",
        "wrong_types_envelope": json.dumps({"version": 1, "project_hash": [], "stage_uuid": {}, "tasks": "three"}),
        "wrong_types_task": json.dumps([{"uuid": 5, "data_hash": True}]),
    }


def _by_title(emu: RunningEmulator) -> dict[str, OutboundMessage]:
    return {title_of(m): m for m in build_messages(fn_agents.build_runner(emu.project_hash))}


def _send(sqs: Any, queue_url: str, bodies: dict[str, str], *, fifo: bool) -> None:
    for kind, body in bodies.items():
        extra = {"MessageGroupId": kind, "MessageDeduplicationId": kind} if fifo else {}
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=body,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": kind}},
            **extra,
        )


@pytest.mark.parametrize("fifo", [False, True], ids=["standard", "fifo"])
def test_a_poisoned_sqs_batch_dead_letters_exactly_the_poison(
    fifo: bool, emu: RunningEmulator, moto: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs = moto.client("sqs")
    suffix = ".fifo" if fifo else ""
    attributes = {"FifoQueue": "true"} if fifo else {}
    queue_url = str(sqs.create_queue(QueueName=f"tasks{suffix}", Attributes=attributes)["QueueUrl"])
    dlq_url = str(sqs.create_queue(QueueName=f"tasks-dlq{suffix}", Attributes=attributes)["QueueUrl"])
    monkeypatch.setenv("RUNNER_DLQ_URL", dlq_url)
    by_title = _by_title(emu)
    healthy = {title: by_title[title].body for title in GOOD}
    poison = _poison()
    _send(sqs, queue_url, {**healthy, **poison}, fifo=fifo)
    event = receive_event(sqs, queue_url, 10)
    assert len(event["Records"]) == 10
    # A corrupted transport field on a healthy record: read as absent, the record still runs.
    (odd,) = [r for r in event["Records"] if r["messageAttributes"]["kind"]["stringValue"] == GOOD[0]]
    odd["attributes"] = "not a dict" if not fifo else {**odd["attributes"], "ApproximateReceiveCount": "²"}

    response = aws.consume(event, lambda_context())

    assert response == {"batchItemFailures": []}  # the poison is stored in the DLQ; nothing is retried
    dead = drain(sqs, dlq_url)
    reasons = {m["Body"]: m["MessageAttributes"]["runner_failure_reason"]["StringValue"] for m in dead}
    assert sorted(reasons) == sorted(poison.values())
    for kind, body in poison.items():
        assert POISON_REASONS[kind] in reasons[body], (kind, reasons[body])
    for title, body in healthy.items():
        assert emu.state.task_stage(task_uuid_of(body)) == "Annotate", title


@pytest.fixture
def topics(pubsub: PubSubEmulator) -> Iterator[_Topics]:
    made = _Topics(pubsub)
    yield made
    made.close()


def test_on_gcp_each_poison_is_dead_lettered_and_acked(
    emu: RunningEmulator,
    topics: _Topics,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dead_topic, dead_sub = topics.create("dead")
    monkeypatch.setenv("RUNNER_DEAD_LETTER_TOPIC", dead_topic)
    client = ff_client(SOURCE, "consume_http", "http")
    poison = _poison()
    for index, (kind, body) in enumerate(poison.items()):
        push = {
            "message": {"messageId": f"poison-{index}", "data": base64.b64encode(body.encode()).decode()},
            "subscription": "projects/p/subscriptions/s",
            "deliveryAttempt": "²",
        }
        assert client.post("/", json=push).status_code == 204, kind  # acked: dead-lettered, not nacked
    letters = {m.data.decode(): m.attributes["runner_failure_reason"] for m in topics.pull(dead_sub, len(poison))}
    assert sorted(letters) == sorted(poison.values())
    for kind, body in poison.items():
        assert POISON_REASONS[kind] in letters[body], kind

    healthy = _by_title(emu)["bright-00.png"].body
    push = {
        "message": {"messageId": "healthy", "data": base64.b64encode(healthy.encode()).decode()},
        "deliveryAttempt": "²",
    }
    assert client.post("/", json=push).status_code == 204
    assert emu.state.task_stage(task_uuid_of(healthy)) == "Annotate"
