"""Reading a dead letter (its reason and tasks) and the attributes a redriven message carries."""

from __future__ import annotations

import json
import uuid

from deploy.ops.letters import DeadLetter, redrive_attributes

PROJECT = str(uuid.uuid4())
STAGE = str(uuid.uuid4())


def _letter(body: str, **attributes: str) -> DeadLetter:
    return DeadLetter(message_id="m1", body=body.encode(), attributes=attributes)


def test_reason_prefers_the_consumers_own_then_names_the_transport_limit() -> None:
    assert _letter("{}", runner_failure_reason="t1: boom").reason == "t1: boom"
    pubsub = _letter("{}", CloudPubSubDeadLetterSourceDeliveryCount="5")
    assert "delivered 5 times" in pubsub.reason
    assert "redrive policy" in _letter("{}").reason


def test_tasks_of_an_envelope_carry_title_stage_and_project() -> None:
    task = {"uuid": str(uuid.uuid4()), "data_hash": str(uuid.uuid4()), "data_title": "cat.jpg"}
    body = json.dumps({"version": 1, "project_hash": PROJECT, "stage_uuid": STAGE, "tasks": [task]})
    tasks, error = _letter(body).tasks()
    assert error is None
    assert [(t.task_uuid, t.data_title, t.stage_uuid, t.project_hash) for t in tasks] == [
        (task["uuid"], "cat.jpg", STAGE, PROJECT)
    ]


def test_an_encord_agents_body_takes_stage_and_project_from_the_attributes() -> None:
    task = {"uuid": str(uuid.uuid4()), "data_hash": str(uuid.uuid4()), "data_title": "dog.png"}
    tasks, _ = _letter(json.dumps(task), project_hash=PROJECT, stage_uuid=STAGE).tasks()
    assert [(t.data_title, t.stage_uuid, t.project_hash) for t in tasks] == [("dog.png", STAGE, PROJECT)]


def test_an_undecodable_body_names_no_task_and_says_why() -> None:
    tasks, error = _letter("this is {not json").tasks()
    assert tasks == []
    assert error is not None
    assert "not JSON" in error


def test_failure_attributes_are_ours_and_the_transports_only() -> None:
    letter = _letter("{}", runner_failure_reason="x", project_hash=PROJECT, CloudPubSubDeadLetterSourceSubscription="s")
    assert letter.failure_attributes == {"CloudPubSubDeadLetterSourceSubscription": "s", "runner_failure_reason": "x"}


def test_redrive_drops_the_failure_keeps_the_producers_and_counts() -> None:
    attributes = {
        "project_hash": PROJECT,
        "runner_failure_reason": "t1: boom",
        "runner_source_message_id": "m0",
        "runner_attempt": "3",
        "CloudPubSubDeadLetterSourceDeliveryCount": "5",
    }
    once = redrive_attributes(attributes, keep_history=False)
    assert once == {"project_hash": PROJECT, "runner_redrive_count": "1"}
    assert (
        redrive_attributes({**once, "runner_failure_reason": "again"}, keep_history=False)["runner_redrive_count"]
        == "2"
    )


def test_redrive_with_history_keeps_every_reason_newest_last_and_bounded() -> None:
    first = redrive_attributes({"runner_failure_reason": "first"}, keep_history=True)
    second = redrive_attributes({**first, "runner_failure_reason": "second"}, keep_history=True)
    assert second["runner_previous_failure_reason"] == "first | second"
    long = redrive_attributes({**second, "runner_failure_reason": "x" * 2000 + "END"}, keep_history=True)
    history = long["runner_previous_failure_reason"]
    assert len(history.encode()) <= 900
    assert history.endswith("END")
