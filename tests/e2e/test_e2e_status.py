"""`runner-core status` on a deployment named by Terraform outputs: the tasks waiting in Encord per agent stage,
the work queue's waiting and in-flight messages, and the dead letters, read from the real emulator and moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deploy.cli import _mount, app
from deploy.local.sqs import LOCAL_AWS_ENV, create_queues, sqs_client
from encord_emulator.testing import run_emulator
from functions import target
from runner_core.client import clear_client_cache


@pytest.fixture(scope="module", autouse=True)
def mounted() -> None:
    if not app.registered_commands:
        _mount()


def test_status_counts_waiting_tasks_queue_and_dead_letters(
    moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs = sqs_client(moto_url)
    queues = create_queues(sqs, name="status", visibility_timeout_s=30)
    for index in range(3):
        sqs.send_message(QueueUrl=queues.queue_url, MessageBody=json.dumps({"n": index}))
    sqs.receive_message(QueueUrl=queues.queue_url, MaxNumberOfMessages=1)  # one in flight
    for index in range(2):
        sqs.send_message(QueueUrl=queues.dlq_url, MessageBody=json.dumps({"dead": index}))
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps({"queue_url": {"value": queues.queue_url}, "dead_letter_queue_url": {"value": queues.dlq_url}})
    )
    for name, value in {**LOCAL_AWS_ENV, "AWS_ENDPOINT_URL": moto_url}.items():
        monkeypatch.setenv(name, value)

    with run_emulator() as emulator:
        monkeypatch.setenv("ENCORD_DOMAIN", emulator.url)
        monkeypatch.setenv("ENCORD_SSH_KEY_FILE", str(emulator.key_file))
        monkeypatch.delenv("ENCORD_SSH_KEY", raising=False)
        clear_client_cache()
        target.clear_cache()
        waiting = len(emulator.state.tasks_in_stage(emulator.project_hash, "pre-label"))
        result = CliRunner().invoke(
            app,
            ["status", "--target", "examples.demo.agent:runner", "--terraform-outputs", str(outputs), "--json"],
            catch_exceptions=False,
        )
        target.clear_cache()
        clear_client_cache()

    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert waiting > 0
    assert [(s["stage"], s["waiting"], s["project"]) for s in status["stages"]] == [
        ("pre-label", waiting, emulator.project_hash)
    ]
    assert status["queue"] == {"waiting": 2, "in_flight": 1, "delayed": 0}
    assert status["dead_letters"] == 2
    assert status["unavailable"] == {}
    assert status["ledger"] is None


def test_status_reports_what_it_cannot_read_and_still_answers(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**LOCAL_AWS_ENV, "AWS_ENDPOINT_URL": moto_url}.items():
        monkeypatch.setenv(name, value)
    missing = f"{moto_url}/000000000000/no-such-queue"
    result = CliRunner().invoke(
        app, ["status", "--sqs-queue-url", missing, "--sqs-dlq-url", missing, "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert set(status["unavailable"]) == {"stages", "queue", "dead_letters"}
    assert "--target" in status["unavailable"]["stages"]
    assert "NonExistentQueue" in status["unavailable"]["queue"]
