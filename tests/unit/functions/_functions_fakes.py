"""A scripted runner for the entrypoints' unit tests: the transport mapping is pure logic; the real runner runs in
tests/integration/functions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from uuid import uuid4

import functions_framework
import pytest
from encord.user_client import EncordUserClient
from encord.workflow.stages.agent import AgentStage
from flask.testing import FlaskClient

from functions import target
from runner_core.outcomes import MessageResult, Outcome, QueueMessage, TaskOutcome


class ScriptedRunner:
    """Answers each message with the outcome its body names: {"script": "moved" | "retry" | "permanent" | ...}."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[QueueMessage], float | None]] = []

    project_hash = "00000000-0000-4000-8000-000000000001"

    def use_client(self, client: EncordUserClient) -> None:
        raise AssertionError("no secret-store key in these tests")

    def get_agent_stages(self) -> list[AgentStage]:
        return []

    def process(self, messages: Sequence[QueueMessage], *, deadline: float | None = None) -> list[MessageResult]:
        self.calls.append((list(messages), deadline))
        return [self._one(m) for m in messages]

    def _one(self, message: QueueMessage) -> MessageResult:
        script = json.loads(message.body)["script"]
        if script == "decode":
            return MessageResult(message.message_id, (), error="message body is not JSON")
        outcome = {
            "moved": TaskOutcome(uuid4(), uuid4(), "p", uuid4(), Outcome.MOVED, pathway_name="annotate"),
            "retry": TaskOutcome(uuid4(), uuid4(), "p", uuid4(), Outcome.FAILED, retryable=True, error="agent raised"),
            "permanent": TaskOutcome(uuid4(), uuid4(), "p", uuid4(), Outcome.FAILED, error="unknown pathway"),
            "routed": TaskOutcome(
                uuid4(), uuid4(), "p", uuid4(), Outcome.FAILED, retryable=True, routed_to_failure_pathway=True
            ),
        }[script]
        return MessageResult(message.message_id, (outcome,))


def install_scripted_runner(monkeypatch: pytest.MonkeyPatch) -> ScriptedRunner:
    """Make RUNNER_TARGET load a fresh ScriptedRunner (no real project behind it)."""
    fake = ScriptedRunner()
    target.clear_cache()
    monkeypatch.setitem(target._loaded, "fn_scripted:runner", fake)
    monkeypatch.setenv("RUNNER_TARGET", "fn_scripted:runner")
    return fake


def ff_client(source: str, target: str, signature_type: str) -> FlaskClient:
    """functions-framework's app for `target` in `source`, as its own test suite drives it."""
    app = functions_framework.create_app(  # type: ignore[no-untyped-call]
        target=target, source=source, signature_type=signature_type
    )
    client: FlaskClient = app.test_client()
    return client
