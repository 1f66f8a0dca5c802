"""The webhook entrypoints (`functions.aws.webhook`, `functions.gcp.webhook`): signed requests only, whatever the
schedule variables say; 500 without a secret; a replayed signature or an absurd timestamp is 401; the signature is
checked before the user's code is imported."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from encord_emulator.testing import RunningEmulator
from functions import aws
from functions.webhook import sign
from tests.integration.functions import fn_agents
from tests.integration.functions.fn_harness import Moto, PubSubEmulator, drain, lambda_context
from tests.integration.functions.test_functions_gcp_integration import SOURCE, _Topics
from tests.unit.functions._functions_fakes import ff_client

EVENTS = Path(__file__).parents[2] / "events"
SECRET = "whsec-entrypoint-0123456789"


def _signed_request(emu: RunningEmulator, *, at: str | None = None) -> tuple[bytes, dict[str, str]]:
    event: dict[str, Any] = json.loads((EVENTS / "lambda_function_url_webhook.json").read_text())
    stage_uuid = str(next(iter(fn_agents.build_runner(emu.project_hash).get_agent_stages())).uuid)
    notification = json.loads(event["body"])
    notification["payload"].update(project_hash=emu.project_hash, stage_uuid=stage_uuid)
    body = json.dumps(notification).encode()
    timestamp = at or str(int(time.time()))
    return body, {"x-encord-timestamp": timestamp, "x-encord-signature": sign(body, secret=SECRET, timestamp=timestamp)}


def _lambda_event(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "lambda_function_url_webhook.json").read_text())
    event["body"] = body.decode()
    event["headers"] = {**{k: v for k, v in event["headers"].items() if not k.startswith("x-encord")}, **headers}
    return event


@pytest.fixture
def queue(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> str:
    queue_url = str(moto.client("sqs").create_queue(QueueName="hooked")["QueueUrl"])
    monkeypatch.setenv("RUNNER_QUEUE_URL", queue_url)
    monkeypatch.setenv("RUNNER_ALLOW_UNSIGNED_SCHEDULE", "true")  # the webhook entrypoint ignores it
    return queue_url


def test_aws_webhook_takes_signed_requests_only(
    emu: RunningEmulator, moto: Moto, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs = moto.client("sqs")
    body, headers = _signed_request(emu)
    emu.reset_counters()

    # No secret configured: 500, signed or not, and nothing published.
    monkeypatch.delenv("ENCORD_WEBHOOK_SECRET", raising=False)
    assert aws.webhook(_lambda_event(body, {}), lambda_context())["statusCode"] == 500
    assert aws.webhook(_lambda_event(body, headers), lambda_context())["statusCode"] == 500
    monkeypatch.setenv("ENCORD_WEBHOOK_SECRET", SECRET)
    # A schedule-shaped event is no trigger here.
    assert aws.webhook({"source": "aws.events", "detail": {}}, lambda_context())["statusCode"] == 400
    # Unsigned, and an absurd timestamp (309+ digits overflowed a float before): 401, before user code loads.
    monkeypatch.setenv("RUNNER_TARGET", "no_such_module_anywhere:runner")
    assert aws.webhook(_lambda_event(body, {}), lambda_context())["statusCode"] == 401
    absurd = {"x-encord-timestamp": "9" * 400, "x-encord-signature": headers["x-encord-signature"]}
    assert aws.webhook(_lambda_event(body, absurd), lambda_context())["statusCode"] == 401
    for odd in ("\u0661\u0667" + "\u0660" * 8, " 1700000000", "-1"):
        odd_headers = {"x-encord-timestamp": odd, "x-encord-signature": headers["x-encord-signature"]}
        assert aws.webhook(_lambda_event(body, odd_headers), lambda_context())["statusCode"] == 401
    assert drain(sqs, queue) == []
    assert emu.requests() == 0

    monkeypatch.setenv("RUNNER_TARGET", fn_agents.TARGET)
    accepted = aws.webhook(_lambda_event(body, headers), lambda_context())
    assert accepted["statusCode"] == 200, accepted
    published = len(drain(sqs, queue))
    assert published == len(emu.state.tasks_in_stage(emu.project_hash, "pre-label")) > 0

    replayed = aws.webhook(_lambda_event(body, headers), lambda_context())
    assert replayed["statusCode"] == 401
    assert "replay" in json.loads(replayed["body"])["error"]
    assert drain(sqs, queue) == []


@pytest.fixture
def topics(pubsub: PubSubEmulator) -> Any:
    made = _Topics(pubsub)
    yield made
    made.close()


def test_gcp_webhook_takes_signed_requests_only(
    emu: RunningEmulator, topics: _Topics, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic, subscription = topics.create("hooked")
    monkeypatch.setenv("RUNNER_TOPIC", topic)
    monkeypatch.setenv("RUNNER_ALLOW_UNSIGNED_SCHEDULE", "true")  # ignored by the webhook entrypoint
    client = ff_client(SOURCE, "webhook", "http")
    body, headers = _signed_request(emu)

    monkeypatch.setenv("ENCORD_WEBHOOK_SECRET", "   ")  # whitespace is no secret
    assert client.post("/", data=body).status_code == 500
    monkeypatch.setenv("ENCORD_WEBHOOK_SECRET", SECRET)
    assert client.post("/", json={}).status_code == 401
    absurd = {"x-encord-timestamp": "9" * 400, "x-encord-signature": headers["x-encord-signature"]}
    assert client.post("/", data=body, headers=absurd).status_code == 401
    assert topics.pull(subscription, 1, wait_s=1.0) == []

    assert client.post("/", data=body, headers=headers).status_code == 200
    waiting = len(emu.state.tasks_in_stage(emu.project_hash, "pre-label"))
    messages = topics.pull(subscription, (waiting + 9) // 10)  # 10 tasks per message by default
    assert sum(len(json.loads(m.data)["tasks"]) for m in messages) == waiting
    assert client.post("/", data=body, headers=headers).status_code == 401  # replayed
    assert topics.pull(subscription, 1, wait_s=1.0) == []
