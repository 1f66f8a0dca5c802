"""functions.gcp through functions-framework's test client, against the real emulator (real SDK) and Google's
Pub/Sub emulator."""

from __future__ import annotations

import base64
import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from encord_emulator.testing import RunningEmulator
from functions.publishers.pubsub import PubSubPublisher
from functions.webhook import sign
from runner_core.producer import OutboundMessage, build_messages
from tests.integration.functions import fn_agents
from tests.integration.functions.fn_harness import (
    PubSubEmulator,
    install_failure_pathway_runner,
    task_uuid_of,
    title_of,
)
from tests.unit.functions._functions_fakes import ff_client

EVENTS = Path(__file__).parents[2] / "events"
SOURCE = str(Path(__file__).parents[3] / "functions" / "gcp.py")
SECRET = "whsec-gcp-secret"


def _client(target: str, signature_type: str) -> FlaskClient:
    return ff_client(SOURCE, target, signature_type)


def _golden(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text()))


def _by_title(emu: RunningEmulator) -> dict[str, OutboundMessage]:
    return {title_of(m): m for m in build_messages(fn_agents.build_runner(emu.project_hash))}


def _b64(body: str) -> str:
    return base64.b64encode(body.encode()).decode()


class _Topics:
    """Topics and pull subscriptions on the Pub/Sub emulator, in a fresh project."""

    def __init__(self, emulator: PubSubEmulator) -> None:
        import google.cloud.pubsub_v1 as pubsub_v1

        self.project = emulator.new_project()
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()

    def create(self, name: str) -> tuple[str, str]:
        topic = f"projects/{self.project}/topics/{name}"
        subscription = f"projects/{self.project}/subscriptions/{name}-pull"
        self.publisher.create_topic(name=topic)
        self.subscriber.create_subscription(
            request={"name": subscription, "topic": topic, "enable_message_ordering": True}
        )
        return topic, subscription

    def pull(self, subscription: str, expected: int, *, wait_s: float = 10.0) -> list[Any]:
        received: list[Any] = []
        deadline = time.monotonic() + wait_s
        while len(received) < expected and time.monotonic() < deadline:
            response = self.subscriber.pull(
                subscription=subscription, max_messages=max(1, expected - len(received)), timeout=wait_s
            )
            received.extend(r.message for r in response.received_messages)
            if response.received_messages:
                self.subscriber.acknowledge(
                    subscription=subscription, ack_ids=[r.ack_id for r in response.received_messages]
                )
        return received

    def close(self) -> None:
        self.subscriber.close()


@pytest.fixture
def topics(pubsub: PubSubEmulator) -> Any:
    made = _Topics(pubsub)
    yield made
    made.close()


def test_binary_structured_and_raw_push_deliveries_move_their_tasks(emu: RunningEmulator) -> None:
    by_title = _by_title(emu)
    cloudevent = _client("consume", "cloudevent")

    headers_and_body = _golden("pubsub_cloudevent_binary.json")
    body = copy.deepcopy(headers_and_body["body"])
    body["message"]["data"] = _b64(by_title["bright-00.png"].body)
    assert cloudevent.post("/", headers=headers_and_body["headers"], data=json.dumps(body)).status_code == 200

    structured = _golden("pubsub_cloudevent_structured.json")
    structured["data"]["message"]["data"] = _b64(by_title["dark-03.png"].body)
    response = cloudevent.post(
        "/", data=json.dumps(structured), headers={"Content-Type": "application/cloudevents+json"}
    )
    assert response.status_code == 200

    raw = _golden("pubsub_push_raw.json")
    raw["message"]["data"] = _b64(by_title["bright-01.png"].body)
    assert cloudevent.post("/", data=json.dumps(raw), content_type="application/json").status_code == 200

    raw["message"]["data"] = _b64(by_title["bright-02.png"].body)
    assert _client("consume_http", "http").post("/", json=raw).status_code == 204

    assert emu.state.task_stage(task_uuid_of(by_title["bright-00.png"].body)) == "Annotate"
    assert emu.state.task_stage(task_uuid_of(by_title["dark-03.png"].body)) == "Complete"
    assert emu.state.task_stage(task_uuid_of(by_title["bright-01.png"].body)) == "Annotate"
    assert emu.state.task_stage(task_uuid_of(by_title["bright-02.png"].body)) == "Annotate"


def test_encord_agents_form_is_accepted(emu: RunningEmulator) -> None:
    envelope = json.loads(_by_title(emu)["bright-04.png"].body)
    raw = _golden("pubsub_push_raw.json")
    raw["message"]["data"] = _b64(json.dumps(envelope["tasks"][0]))  # one AgentTask.model_dump_json()
    assert _client("consume", "cloudevent").post("/", json=raw).status_code == 200
    assert emu.state.task_stage(envelope["tasks"][0]["uuid"]) == "Annotate"


def test_retryable_failure_nacks_and_permanent_failure_goes_to_the_dead_letter_topic(
    emu: RunningEmulator, topics: _Topics, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead_topic, dead_sub = topics.create("dead")
    monkeypatch.setenv("RUNNER_DEAD_LETTER_TOPIC", dead_topic)
    client = _client("consume_http", "http")
    raw = _golden("pubsub_push_raw.json")

    raw["message"]["data"] = _b64(_by_title(emu)[fn_agents.RAISES_ON].body)
    assert client.post("/", json=raw).status_code == 500  # retryable: nack

    raw["message"]["data"] = _b64("{not json")
    raw["message"]["attributes"] = {"origin": "test"}
    raw["deliveryAttempt"] = 2
    assert client.post("/", json=raw).status_code == 204  # permanent: dead-lettered, then acked
    (dead,) = topics.pull(dead_sub, 1)
    assert dead.data == b"{not json"
    assert "not JSON" in dead.attributes["runner_failure_reason"]
    assert dead.attributes["runner_source_message_id"] == raw["message"]["messageId"]
    assert dead.attributes["runner_attempt"] == "2"
    assert dead.attributes["origin"] == "test"


def test_scheduler_dispatch_publishes_batched_messages(
    emu: RunningEmulator, topics: _Topics, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic, subscription = topics.create("tasks")
    monkeypatch.setenv("RUNNER_TOPIC", topic)
    monkeypatch.setenv("RUNNER_TASKS_PER_MESSAGE", "7")
    monkeypatch.delenv("ENCORD_WEBHOOK_SECRET", raising=False)
    response = _client("dispatch", "http").post("/", json={})
    assert response.status_code == 200, response.get_data(as_text=True)
    waiting = len(emu.state.tasks_in_stage(emu.project_hash, "pre-label"))
    assert response.get_json()["tasks"] == waiting
    messages = topics.pull(subscription, (waiting + 6) // 7)
    assert sum(len(json.loads(m.data)["tasks"]) for m in messages) == waiting
    assert max(len(json.loads(m.data)["tasks"]) for m in messages) == 7
    assert all(m.attributes["project_hash"] == emu.project_hash for m in messages)


def test_single_task_messages_carry_the_data_hash_as_ordering_key(emu: RunningEmulator, topics: _Topics) -> None:
    topic, subscription = topics.create("ordered")
    messages = list(_by_title(emu).values())[:5]
    report = PubSubPublisher(topic=topic).publish(messages)
    assert report.published == 5
    pulled = topics.pull(subscription, 5)
    assert sorted(m.ordering_key for m in pulled) == sorted(str(m.data_hash) for m in messages)


def _signed(emu: RunningEmulator, *, secret: str = SECRET, project: str | None = None) -> tuple[bytes, dict[str, str]]:
    stage = next(iter(fn_agents.build_runner(emu.project_hash).get_agent_stages()))
    body = json.dumps(
        {
            "uid": "0b7d1c2e-9a55-4c1e-8f1c-2a4e3d2f1e0c",
            "version": 1,
            "source": "encord",
            "event_type": "agent_stage_work_available_event",
            "event_created_timestamp": "2026-11-24T05:00:00Z",
            "payload": {
                "project_hash": project or emu.project_hash,
                "stage_uuid": str(stage.uuid),
                "pending_count": 1,
                "reason": "max_wait_elapsed",
            },
        }
    ).encode()
    now = int(time.time())
    return body, {"X-Encord-Signature": sign(body, secret=secret, timestamp=now), "X-Encord-Timestamp": str(now)}


def test_webhook_dispatch_on_gcp(emu: RunningEmulator, topics: _Topics, monkeypatch: pytest.MonkeyPatch) -> None:
    topic, subscription = topics.create("hooked")
    monkeypatch.setenv("RUNNER_TOPIC", topic)
    monkeypatch.setenv("ENCORD_WEBHOOK_SECRET", SECRET)
    client = _client("dispatch", "http")

    assert client.post("/", json={}).status_code == 401  # unsigned while a secret is configured
    body, headers = _signed(emu, secret="wrong")
    assert client.post("/", data=body, headers=headers).status_code == 401
    body, headers = _signed(emu, project="11111111-2222-4333-8444-555555555555")
    refused = client.post("/", data=body, headers=headers)
    assert refused.status_code == 403
    assert "RUNNER_PROJECT_ALLOWLIST" in refused.get_json()["error"]
    assert topics.pull(subscription, 1, wait_s=1.0) == []

    body, headers = _signed(emu)
    accepted = client.post("/", data=body, headers=headers)
    assert accepted.status_code == 200
    waiting = len(emu.state.tasks_in_stage(emu.project_hash, "pre-label"))
    messages = topics.pull(subscription, (waiting + 9) // 10)  # 10 tasks per message by default
    assert sum(len(json.loads(m.data)["tasks"]) for m in messages) == waiting


def test_last_delivery_attempt_routes_along_the_failure_pathway(
    emu: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_failure_pathway_runner(monkeypatch, project_hash=emu.project_hash, max_attempts=3)
    body = _by_title(emu)[fn_agents.RAISES_ON].body
    raw = _golden("pubsub_push_raw.json")
    raw["message"]["data"] = _b64(body)
    client = _client("consume_http", "http")
    raw["deliveryAttempt"] = 2
    assert client.post("/", json=raw).status_code == 500
    assert emu.state.task_stage(task_uuid_of(body)) == "pre-label"
    raw["deliveryAttempt"] = 3
    assert client.post("/", json=raw).status_code == 204
    assert emu.state.task_stage(task_uuid_of(body)) == "Complete"


def test_unsigned_schedule_is_allowed_when_the_function_is_declared_private(
    emu: RunningEmulator, topics: _Topics, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic, subscription = topics.create("private")
    monkeypatch.setenv("RUNNER_TOPIC", topic)
    monkeypatch.setenv("ENCORD_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("RUNNER_ALLOW_UNSIGNED_SCHEDULE", "true")
    monkeypatch.setenv("RUNNER_DISPATCH_STATUSES", "NEW")
    response = _client("dispatch", "http").post("/", json={})
    assert response.status_code == 200
    waiting = len(emu.state.tasks_in_stage(emu.project_hash, "pre-label"))
    assert response.get_json()["tasks"] == waiting
    messages = topics.pull(subscription, (waiting + 9) // 10)  # 10 tasks per message by default
    assert sum(len(json.loads(m.data)["tasks"]) for m in messages) == waiting
