"""Acceptance: a 20,000-task backlog drained by the real producer (`functions.gcp.dispatch` through
functions-framework, Google's Pub/Sub and Firestore emulators) in runs with a 15 s budget each. Every run returns
inside its budget; after enough runs exactly one message per task is queued; one more run publishes nothing.

Before: one run listed the whole stage into memory, was killed at its timeout with a fraction queued, and the next
run started from scratch. (The AWS producer shares this code; moto's SQS makes every send O(queue depth), so a
20,000-message queue on moto measures moto, not the producer.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from deploy.local.seeds import backlog_seed
from encord_emulator.testing import RunningEmulator, run_emulator
from functions import ledgers, target
from runner_core.client import clear_client_cache
from runner_core.messages import decode_message
from tests.integration.functions import fn_agents
from tests.integration.functions.conftest import TARGET
from tests.integration.functions.fn_harness import FirestoreEmulator, PubSubEmulator
from tests.unit.functions._functions_fakes import ff_client

BACKLOG = 20_000
BUDGET_S = 15.0
SOURCE = str(Path(__file__).parents[3] / "functions" / "gcp.py")


@pytest.fixture
def big_backlog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningEmulator]:
    image = tmp_path / "one.png"
    Image.new("RGB", (4, 4)).save(image)
    with run_emulator(backlog_seed(count=BACKLOG, image=image)) as emu:
        monkeypatch.setenv("ENCORD_SSH_KEY", emu.ssh_key)
        monkeypatch.setenv("ENCORD_DOMAIN", emu.url)
        monkeypatch.delenv("ENCORD_SSH_KEY_FILE", raising=False)
        monkeypatch.delenv("ENCORD_WEBHOOK_SECRET", raising=False)
        monkeypatch.setenv("RUNNER_TARGET", TARGET)
        clear_client_cache()
        target.clear_cache()
        monkeypatch.setitem(target._loaded, TARGET, fn_agents.build_runner(emu.project_hash))
        yield emu
        target.clear_cache()
        clear_client_cache()


def _pull_all(subscriber: Any, subscription: str) -> list[Any]:
    found: list[Any] = []
    while True:
        response = subscriber.pull(subscription=subscription, max_messages=1000, timeout=10)
        if not response.received_messages:
            return found
        found.extend(item.message for item in response.received_messages)
        subscriber.acknowledge(subscription=subscription, ack_ids=[i.ack_id for i in response.received_messages])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_backlog_drains_in_budgeted_runs_one_message_per_task(
    big_backlog: RunningEmulator,
    pubsub: PubSubEmulator,
    firestore: FirestoreEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import google.cloud.pubsub_v1 as pubsub_v1

    project = pubsub.new_project()
    topic = pubsub_v1.PublisherClient().create_topic(name=f"projects/{project}/topics/tasks").name
    subscriber = pubsub_v1.SubscriberClient()
    subscription = subscriber.create_subscription(name=f"projects/{project}/subscriptions/all", topic=topic).name
    monkeypatch.setenv("RUNNER_TOPIC", topic)
    monkeypatch.setenv("RUNNER_LEDGER_COLLECTION", "runner-ledger")
    monkeypatch.setenv("RUNNER_FUNCTION_TIMEOUT_S", str(BUDGET_S))
    monkeypatch.setenv("RUNNER_DEADLINE_MARGIN_S", "2")
    ledgers.clear_cache()
    dispatch = ff_client(SOURCE, "dispatch", "http")

    published: list[int] = []
    for _ in range(40):
        started = time.monotonic()
        response = dispatch.post("/", json={})
        elapsed = time.monotonic() - started
        assert response.status_code == 200, response.get_data(as_text=True)
        assert elapsed < BUDGET_S, f"a producer run took {elapsed:.1f} s of its {BUDGET_S} s budget"
        summary = response.get_json()
        published.append(summary["tasks"])
        if not summary["stopped_at_deadline"]:
            break
    assert len(published) > 1, "one run drained everything: the budget bounded nothing"
    assert sum(published) == BACKLOG

    again = dispatch.post("/", json={}).get_json()
    assert (again["tasks"], again["in_flight"], again["stopped_at_deadline"]) == (0, BACKLOG, False)

    queued = [
        task.uuid for message in _pull_all(subscriber, subscription) for task in decode_message(message.data).tasks
    ]
    assert len(queued) == len(set(queued)) == BACKLOG
    subscriber.close()
