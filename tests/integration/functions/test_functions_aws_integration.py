"""functions.aws against the real emulator (real SDK) and real moto_server queues."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

from encord_emulator.testing import RunningEmulator
from functions import aws, target
from functions.publishers.sqs import SqsPublisher
from runner_core.client import clear_client_cache
from runner_core.producer import OutboundMessage, build_messages
from tests.integration.functions import fn_agents
from tests.integration.functions.fn_harness import (
    bad_bodies,
    drain,
    install_failure_pathway_runner,
    lambda_context,
    receive_event,
    task_uuid_of,
    title_of,
)

EVENTS = Path(__file__).parents[2] / "events"
GOOD = [f"bright-{i:02d}.png" for i in range(6)]


def _messages_by_title(emu: RunningEmulator) -> dict[str, OutboundMessage]:
    runner = fn_agents.build_runner(emu.project_hash)
    return {title_of(message): message for message in build_messages(runner)}


def _queue(moto: Any, name: str) -> str:
    attributes = {"FifoQueue": "true"} if name.endswith(".fifo") else {}
    return str(moto.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def _send_mixed_batch(emu: RunningEmulator, moto: Any, queue_url: str) -> dict[str, str]:
    """6 good tasks, 1 whose agent raises, 3 broken bodies -> {body kind or title: body}."""
    by_title = _messages_by_title(emu)
    bodies = {title: by_title[title].body for title in [*GOOD, fn_agents.RAISES_ON]}
    bodies.update(bad_bodies(emu.project_hash))
    sqs = moto.client("sqs")
    for name, body in bodies.items():
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=body,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": name}},
        )
    return bodies


def _failed_kinds(event: dict[str, Any], response: PartialItemFailureResponse) -> set[str]:
    kinds = {r["messageId"]: r["messageAttributes"]["kind"]["stringValue"] for r in event["Records"]}
    return {kinds[item["itemIdentifier"]] for item in response["batchItemFailures"]}


def test_mixed_batch_reports_exactly_the_four_failures(emu: RunningEmulator, moto: Any) -> None:
    queue_url = _queue(moto, "tasks")
    bodies = _send_mixed_batch(emu, moto, queue_url)
    event = receive_event(moto.client("sqs"), queue_url, 10)
    emu.reset_counters()

    response = aws.consume(event, lambda_context())

    assert _failed_kinds(event, response) == {fn_agents.RAISES_ON, "not_json", "wrong_schema", "unknown_stage"}
    for title in GOOD:
        assert emu.state.task_stage(task_uuid_of(bodies[title])) == "Annotate"
    assert emu.state.task_stage(task_uuid_of(bodies[fn_agents.RAISES_ON])) == "pre-label"
    # One runner call for the whole batch: the 7 decodable tasks were re-fetched and proceeded in bulk.
    assert emu.requests() <= 8


def test_with_a_dlq_permanent_failures_are_dead_lettered_at_once(
    emu: RunningEmulator, moto: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue_url, dlq_url = _queue(moto, "tasks"), _queue(moto, "tasks-dlq")
    monkeypatch.setenv("RUNNER_DLQ_URL", dlq_url)
    bodies = _send_mixed_batch(emu, moto, queue_url)
    event = receive_event(moto.client("sqs"), queue_url, 10)

    response = aws.consume(event, lambda_context())

    assert _failed_kinds(event, response) == {fn_agents.RAISES_ON}
    dead = drain(moto.client("sqs"), dlq_url)
    assert sorted(m["Body"] for m in dead) == sorted(bodies[k] for k in ("not_json", "wrong_schema", "unknown_stage"))
    reasons = {m["Body"]: m["MessageAttributes"]["runner_failure_reason"]["StringValue"] for m in dead}
    assert "not JSON" in reasons[bodies["not_json"]]
    assert "stage_uuid" in reasons[bodies["wrong_schema"]]
    assert "no agent for stage" in reasons[bodies["unknown_stage"]]
    assert all(m["MessageAttributes"]["runner_attempt"]["StringValue"] == "1" for m in dead)
    for title in GOOD:
        assert emu.state.task_stage(task_uuid_of(bodies[title])) == "Annotate"


def test_same_task_delivered_twice_is_moved_once(
    emu: RunningEmulator, moto: Any, caplog: pytest.LogCaptureFixture
) -> None:
    queue_url = _queue(moto, "tasks")
    body = _messages_by_title(emu)["bright-03.png"].body
    sqs = moto.client("sqs")
    for _ in range(3):
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    first = receive_event(sqs, queue_url, 2)  # two copies in one batch
    later = receive_event(sqs, queue_url, 1)  # and a late redelivery
    with caplog.at_level("INFO"):
        assert aws.consume(first, lambda_context()) == {"batchItemFailures": []}
        assert aws.consume(later, lambda_context()) == {"batchItemFailures": []}
    outcomes = [str(getattr(r, "outcome", "")) for r in caplog.records if getattr(r, "event", None) == "task_outcome"]
    assert sorted(outcomes) == ["moved", "skipped", "skipped"]
    assert emu.state.task_stage(task_uuid_of(body)) == "Annotate"


def test_fifo_queue_group_and_dedup_and_failure_pathway_on_last_attempt(
    emu: RunningEmulator, moto: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_failure_pathway_runner(monkeypatch, project_hash=emu.project_hash, max_attempts=2)
    queue_url = _queue(moto, "tasks.fifo")
    by_title = _messages_by_title(emu)
    report = SqsPublisher(queue_url=queue_url).publish([by_title[fn_agents.RAISES_ON], by_title["dark-01.png"]])
    assert report.published == 2
    sqs = moto.client("sqs")
    first = receive_event(sqs, queue_url, 2)
    groups = {r["attributes"]["MessageGroupId"] for r in first["Records"]}
    assert groups == {str(by_title[fn_agents.RAISES_ON].data_hash), str(by_title["dark-01.png"].data_hash)}
    assert {r["attributes"]["MessageDeduplicationId"] for r in first["Records"]} == {
        by_title[fn_agents.RAISES_ON].dedup_id,
        by_title["dark-01.png"].dedup_id,
    }
    response = aws.consume(first, lambda_context())
    failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    assert len(failed) == 1  # attempt 1 of 2: the raising task is retried
    raising_uuid = task_uuid_of(by_title[fn_agents.RAISES_ON].body)
    assert emu.state.task_stage(raising_uuid) == "pre-label"
    assert emu.state.task_stage(task_uuid_of(by_title["dark-01.png"].body)) == "Complete"

    # The last attempt: the runner routes the task along the stage's failure pathway and the record is acked.
    (record,) = [r for r in first["Records"] if r["messageId"] == failed[0]]
    record["attributes"]["ApproximateReceiveCount"] = "2"
    assert aws.consume({"Records": [record]}, lambda_context()) == {"batchItemFailures": []}
    assert emu.state.task_stage(raising_uuid) == "Complete"


def test_records_past_the_deadline_are_failures_not_lost(emu: RunningEmulator, moto: Any) -> None:
    queue_url = _queue(moto, "tasks")
    by_title = _messages_by_title(emu)
    sqs = moto.client("sqs")
    for title in GOOD[:3]:
        sqs.send_message(QueueUrl=queue_url, MessageBody=by_title[title].body)
    event = receive_event(sqs, queue_url, 3)
    response = aws.consume(event, lambda_context(remaining_s=0))
    assert len(response["batchItemFailures"]) == 3
    assert all(emu.state.task_stage(task_uuid_of(by_title[t].body)) == "pre-label" for t in GOOD[:3])


def test_key_from_secrets_manager(emu: RunningEmulator, moto: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    body = _messages_by_title(emu)["dark-05.png"].body
    arn = moto.client("secretsmanager").create_secret(Name="encord-key", SecretString=emu.ssh_key)["ARN"]
    monkeypatch.delenv("ENCORD_SSH_KEY")  # restored (to the fixture's value, then unset) at teardown
    monkeypatch.setenv("ENCORD_SSH_KEY_SECRET_ARN", arn)
    clear_client_cache()
    queue_url = _queue(moto, "tasks")
    moto.client("sqs").send_message(QueueUrl=queue_url, MessageBody=body)
    assert aws.consume(receive_event(moto.client("sqs"), queue_url, 1), lambda_context()) == {"batchItemFailures": []}
    assert emu.state.task_stage(task_uuid_of(body)) == "Complete"


def test_schedule_dispatch_publishes_every_waiting_task(
    emu: RunningEmulator, moto: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue_url = _queue(moto, "tasks.fifo")
    monkeypatch.setenv("RUNNER_QUEUE_URL", queue_url)
    event = json.loads((EVENTS / "eventbridge_schedule.json").read_text())
    summary = aws.dispatch(event, lambda_context())
    waiting = len(emu.state.tasks_in_stage(emu.project_hash, "pre-label"))
    assert summary["messages"] == summary["tasks"] == waiting
    assert len(drain(moto.client("sqs"), queue_url)) == waiting


WEBHOOK_SECRET = "whsec-integration-secret"


def _webhook_event(
    emu: RunningEmulator, *, project: str | None = None, at: int | None = None, sign_with: str = WEBHOOK_SECRET
) -> dict[str, Any]:
    import time as _time

    from functions.webhook import sign

    event: dict[str, Any] = json.loads((EVENTS / "lambda_function_url_webhook.json").read_text())
    stage_uuid = str(next(iter(fn_agents.build_runner(emu.project_hash).get_agent_stages())).uuid)
    notification = json.loads(event["body"])
    notification["payload"].update(project_hash=project or emu.project_hash, stage_uuid=stage_uuid)
    body = json.dumps(notification)
    timestamp = int(_time.time()) if at is None else at
    event["body"] = body
    event["headers"]["x-encord-timestamp"] = str(timestamp)
    event["headers"]["x-encord-signature"] = sign(body.encode(), secret=sign_with, timestamp=timestamp)
    return event


@pytest.fixture
def webhook_queue(moto: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    queue_url = _queue(moto, "tasks")
    monkeypatch.setenv("RUNNER_QUEUE_URL", queue_url)
    monkeypatch.setenv("ENCORD_WEBHOOK_SECRET", WEBHOOK_SECRET)
    return queue_url


def test_signed_webhook_enqueues_the_stage(emu: RunningEmulator, moto: Any, webhook_queue: str) -> None:
    answer = aws.dispatch(_webhook_event(emu), lambda_context())
    assert answer["statusCode"] == 200, answer
    waiting = len(emu.state.tasks_in_stage(emu.project_hash, "pre-label"))
    assert json.loads(answer["body"])["tasks"] == waiting
    assert len(drain(moto.client("sqs"), webhook_queue)) == waiting


@pytest.mark.parametrize("problem", ["wrong secret", "stale", "tampered"])
def test_bad_or_stale_signature_is_401_and_enqueues_nothing(
    emu: RunningEmulator, moto: Any, webhook_queue: str, problem: str
) -> None:
    import time as _time

    if problem == "wrong secret":
        event = _webhook_event(emu, sign_with="not-the-secret")
    elif problem == "stale":
        event = _webhook_event(emu, at=int(_time.time()) - 301)
    else:
        event = _webhook_event(emu)
        event["body"] = event["body"].replace("batch_size_reached", "max_wait_elapsed")
    emu.reset_counters()
    answer = aws.dispatch(event, lambda_context())
    assert answer["statusCode"] == 401
    assert drain(moto.client("sqs"), webhook_queue) == []
    assert emu.requests() == 0  # rejected before anything was listed


def test_webhook_for_a_project_not_on_the_allow_list_is_rejected(
    emu: RunningEmulator, moto: Any, webhook_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = "11111111-2222-4333-8444-555555555555"
    answer = aws.dispatch(_webhook_event(emu, project=other), lambda_context())
    assert answer["statusCode"] == 403
    assert json.loads(answer["body"])["error"] == (
        f"project {other} is not in RUNNER_PROJECT_ALLOWLIST; nothing was enqueued"
    )
    monkeypatch.setenv("RUNNER_PROJECT_ALLOWLIST", other)  # allowed, but this runner serves the demo project
    # Signed a second earlier: the same request again would be refused as a replay.
    answer = aws.dispatch(_webhook_event(emu, project=other, at=int(time.time()) - 1), lambda_context())
    assert answer["statusCode"] == 403
    assert "not the project of this function's runner" in json.loads(answer["body"])["error"]
    assert drain(moto.client("sqs"), webhook_queue) == []


def test_webhook_secret_from_secrets_manager_and_base64_body(
    emu: RunningEmulator, moto: Any, webhook_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    arn = moto.client("secretsmanager").create_secret(Name="webhook", SecretString=WEBHOOK_SECRET)["ARN"]
    monkeypatch.delenv("ENCORD_WEBHOOK_SECRET")
    monkeypatch.setenv("ENCORD_WEBHOOK_SECRET_ARN", arn)
    event = _webhook_event(emu)
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    assert aws.dispatch(event, lambda_context())["statusCode"] == 200
    assert drain(moto.client("sqs"), webhook_queue)


def test_loading_the_target_makes_no_encord_request(
    emu: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fn_fresh_agents.py").write_text(
        "from runner_core import QueueRunner\n"
        f"runner = QueueRunner(project_hash={emu.project_hash!r})\n"
        "@runner.stage('pre-label')\n"
        "def route() -> str:\n"
        "    return 'annotate'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    emu.reset_counters()
    runner = target.load_runner("fn_fresh_agents:runner")
    assert emu.requests() == 0
    assert [stage.title for stage in runner.get_agent_stages()] == ["pre-label"]
    assert emu.requests() > 0  # the counter does count: the first use resolved the project
