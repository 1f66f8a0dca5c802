"""functions.pubsub_batches: which tasks of a partly failed Pub/Sub message come back, and with what attempt."""

from __future__ import annotations

import json
from uuid import UUID, uuid4

import pytest

from functions.pubsub_batches import PRIOR_ATTEMPTS, attempt_of, prior_attempts, split
from runner_core.outcomes import MessageResult, Outcome, TaskOutcome

PROJECT = "00000000-0000-4000-8000-000000000001"
STAGE = "00000000-0000-4000-8000-000000000002"


def _body(uuids: list[UUID]) -> bytes:
    tasks = [{"uuid": str(u), "data_hash": str(uuid4()), "data_title": f"t{i}.png"} for i, u in enumerate(uuids)]
    return json.dumps({"version": 1, "project_hash": PROJECT, "stage_uuid": STAGE, "tasks": tasks}).encode()


def _outcome(uuid: UUID, outcome: Outcome, *, retryable: bool = False, routed: bool = False) -> TaskOutcome:
    return TaskOutcome(
        task_uuid=uuid,
        data_hash=None,
        project_hash=PROJECT,
        stage_uuid=UUID(STAGE),
        outcome=outcome,
        retryable=retryable,
        error=None if outcome is not Outcome.FAILED else f"boom {uuid}",
        routed_to_failure_pathway=routed,
    )


def _uuids_in(body: bytes | None) -> list[UUID]:
    assert body is not None
    return [UUID(task["uuid"]) for task in json.loads(body)["tasks"]]


@pytest.mark.parametrize(
    ("attributes", "delivery", "expected"),
    [
        ({}, None, 1),
        ({}, 0, 1),
        ({}, 3, 3),
        ({PRIOR_ATTEMPTS: "2"}, 1, 3),
        ({PRIOR_ATTEMPTS: "2"}, 2, 4),
        ({PRIOR_ATTEMPTS: "-1"}, 1, 1),
        ({PRIOR_ATTEMPTS: "²"}, 1, 1),
        ({PRIOR_ATTEMPTS: "99999"}, 1, 1),
    ],
)
def test_attempt_is_prior_attempts_plus_delivery_attempt(
    attributes: dict[str, str], delivery: int | None, expected: int
) -> None:
    assert attempt_of(attributes, delivery) == expected
    assert prior_attempts(attributes) == expected - max(1, delivery or 1)


def test_only_the_retryable_failures_are_sent_back_and_permanent_ones_dead_lettered() -> None:
    done, retry, dead, routed = uuid4(), uuid4(), uuid4(), uuid4()
    result = MessageResult(
        message_id="m",
        tasks=(
            _outcome(done, Outcome.MOVED),
            _outcome(retry, Outcome.FAILED, retryable=True),
            _outcome(dead, Outcome.FAILED),
            _outcome(routed, Outcome.FAILED, routed=True),
        ),
    )
    parts = split(_body([done, retry, dead, routed]), result, last_attempt=False)
    assert parts is not None
    assert _uuids_in(parts.retry) == [retry]
    assert _uuids_in(parts.dead_letter) == [dead]
    assert (parts.retry_tasks, parts.dead_letter_tasks) == (1, 1)
    assert parts.dead_letter_decision.reason == f"{dead}: boom {dead}"
    kept = json.loads(parts.retry or b"")
    assert (kept["version"], kept["project_hash"], kept["stage_uuid"]) == (1, PROJECT, STAGE)


def test_on_the_last_attempt_retryable_failures_are_dead_lettered_too() -> None:
    done, retry = uuid4(), uuid4()
    result = MessageResult("m", (_outcome(done, Outcome.MOVED), _outcome(retry, Outcome.FAILED, retryable=True)))
    parts = split(_body([done, retry]), result, last_attempt=True)
    assert parts is not None
    assert parts.retry is None
    assert _uuids_in(parts.dead_letter) == [retry]


def test_a_single_retryable_task_on_its_last_attempt_is_dead_lettered() -> None:
    only = uuid4()
    result = MessageResult("m", (_outcome(only, Outcome.FAILED, retryable=True),))
    assert split(_body([only]), result, last_attempt=False) is None  # nack: the subscription retries it
    parts = split(_body([only]), result, last_attempt=True)
    assert parts is not None
    assert _uuids_in(parts.dead_letter) == [only]


def test_messages_settled_whole_are_not_split() -> None:
    a, b = uuid4(), uuid4()
    body = _body([a, b])
    all_done = MessageResult("m", (_outcome(a, Outcome.MOVED), _outcome(b, Outcome.SKIPPED)))
    all_retry = MessageResult(
        "m", (_outcome(a, Outcome.FAILED, retryable=True), _outcome(b, Outcome.FAILED, retryable=True))
    )
    undecodable = MessageResult("m", (), error="message body is not JSON")
    assert split(body, all_done, last_attempt=False) is None
    assert split(body, all_retry, last_attempt=False) is None
    assert split(body, undecodable, last_attempt=False) is None


def test_an_encord_agents_body_is_settled_whole() -> None:
    a, b = uuid4(), uuid4()
    body = json.dumps([{"uuid": str(a), "data_hash": str(uuid4())}, {"uuid": str(b), "data_hash": str(uuid4())}])
    result = MessageResult("m", (_outcome(a, Outcome.MOVED), _outcome(b, Outcome.FAILED, retryable=True)))
    assert split(body.encode(), result, last_attempt=False) is None


def test_when_every_task_gave_up_the_dead_letter_is_the_original_body() -> None:
    a, b = uuid4(), uuid4()
    body = _body([a, b])
    result = MessageResult("m", (_outcome(a, Outcome.FAILED), _outcome(b, Outcome.FAILED, retryable=True)))
    parts = split(body, result, last_attempt=True)
    assert parts is not None
    assert parts.dead_letter == body
    assert parts.retry is None
