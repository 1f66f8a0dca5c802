from __future__ import annotations

import json
from uuid import UUID, uuid4

import pytest

from runner_core.errors import MessageDecodeError, PermanentError
from runner_core.messages import ENVELOPE_VERSION, TaskRef, decode_message, encode_envelope, encode_task

PROJECT = "11111111-1111-1111-1111-111111111111"
STAGE = "22222222-2222-2222-2222-222222222222"


def _task(**overrides: object) -> dict[str, object]:
    task: dict[str, object] = {
        "uuid": str(uuid4()),
        "created_at": "2025-01-01T00:00:00",
        "updated_at": "2025-01-02T00:00:00",
        "status": "NEW",
        "data_hash": str(uuid4()),
        "data_title": "img.png",
        "label_branch_name": "main",
        "assignee": None,
        "last_actioned_by": None,
    }
    task.update(overrides)
    return task


def test_single_agent_task_form_has_no_project_or_stage() -> None:
    task = _task()
    decoded = decode_message(json.dumps(task))
    assert decoded.version is None
    assert decoded.project_hash is None
    assert decoded.stage_uuid is None
    (ref,) = decoded.tasks
    assert ref.uuid == UUID(str(task["uuid"]))
    assert ref.data_hash == UUID(str(task["data_hash"]))
    assert ref.data_title == "img.png"
    assert ref.label_branch_name == "main"
    assert ref.updated_at == "2025-01-02T00:00:00"


def test_list_form_keeps_order_and_accepts_bytes() -> None:
    tasks = [_task(), _task(), _task()]
    decoded = decode_message(json.dumps(tasks).encode())
    assert [str(t.uuid) for t in decoded.tasks] == [t["uuid"] for t in tasks]


def test_envelope_round_trip() -> None:
    tasks = [_task(), _task()]
    body = encode_envelope(project_hash=PROJECT, stage_uuid=UUID(STAGE), tasks=tasks)
    decoded = decode_message(body)
    assert decoded.version == ENVELOPE_VERSION
    assert decoded.project_hash == PROJECT
    assert decoded.stage_uuid == UUID(STAGE)
    assert [str(t.uuid) for t in decoded.tasks] == [t["uuid"] for t in tasks]
    assert decoded.tasks[0].fields["status"] == "NEW"


def test_envelope_of_task_refs_keeps_their_fields() -> None:
    ref = decode_message(json.dumps(_task())).tasks[0]
    body = encode_envelope(project_hash=PROJECT, stage_uuid=STAGE, tasks=[ref])
    again = decode_message(body).tasks[0]
    assert again == ref
    assert again.fields == ref.fields


def test_encode_task_of_a_ref_is_the_single_form() -> None:
    ref = TaskRef(uuid=uuid4(), data_hash=uuid4())
    decoded = decode_message(encode_task(ref))
    assert decoded.tasks[0].uuid == ref.uuid
    assert decoded.version is None


def test_encode_envelope_needs_tasks() -> None:
    with pytest.raises(ValueError, match="at least one task"):
        encode_envelope(project_hash=PROJECT, stage_uuid=STAGE, tasks=[])


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("", "message body is empty"),
        ("   ", "message body is empty"),
        (b"\xff\xfe", "not UTF-8"),
        ("{not json", "not JSON"),
        ("42", "must be a JSON object or list, not a number"),
        ("[]", "message holds no tasks"),
        ("[1]", r"message\[0\] must be a task object, not a number"),
        ('{"data_hash": "00000000-0000-0000-0000-000000000001"}', "field 'uuid' is missing"),
        (
            '{"uuid": "nope", "data_hash": "00000000-0000-0000-0000-000000000001"}',
            "message.uuid is not a valid UUID: 'nope'",
        ),
        (
            '{"uuid": "00000000-0000-0000-0000-000000000001", "data_hash": 5}',
            "message.data_hash must be a UUID string, not a number",
        ),
        (
            '{"uuid": "00000000-0000-0000-0000-000000000001", "data_hash": "00000000-0000-0000-0000-000000000002",'
            ' "data_title": 3}',
            "message.data_title must be a string",
        ),
        ('{"tasks": []}', "field 'version' is missing"),
        ('{"version": "1", "tasks": []}', "'version' must be an integer, not a string"),
        ('{"version": 2, "tasks": []}', "unsupported version 2"),
        (f'{{"version": 1, "stage_uuid": "{STAGE}", "tasks": []}}', "field 'project_hash' is missing"),
        (f'{{"version": 1, "project_hash": "{PROJECT}", "tasks": []}}', "field 'stage_uuid' is missing"),
        (f'{{"version": 1, "project_hash": "x", "stage_uuid": "{STAGE}", "tasks": []}}', "project_hash is not a"),
        (f'{{"version": 1, "project_hash": "{PROJECT}", "stage_uuid": "{STAGE}", "tasks": {{}}}}', "must be a list"),
        (f'{{"version": 1, "project_hash": "{PROJECT}", "stage_uuid": "{STAGE}", "tasks": []}}', "holds no tasks"),
        (
            f'{{"version": 1, "project_hash": "{PROJECT}", "stage_uuid": "{STAGE}", "tasks": [{{"uuid": "x"}}]}}',
            r"envelope.tasks\[0\]: field 'data_hash' is missing",
        ),
    ],
)
def test_bad_bodies_say_exactly_what_is_wrong(body: str | bytes, reason: str) -> None:
    with pytest.raises(MessageDecodeError, match=reason) as info:
        decode_message(body)
    assert isinstance(info.value, PermanentError)


def test_a_body_that_is_not_text_is_rejected() -> None:
    with pytest.raises(MessageDecodeError, match="must be str or bytes, not dict"):
        decode_message({"uuid": "x"})  # type: ignore[arg-type]


@pytest.mark.parametrize("body", ["x" * 101, b"x" * 101, "é" * 51])
def test_a_body_over_the_limit_is_rejected_before_parsing(body: str | bytes) -> None:
    with pytest.raises(MessageDecodeError, match=r"message body is 10[12] bytes, over the transport's limit of 100"):
        decode_message(body, max_bytes=100)


def test_a_body_at_the_limit_is_parsed() -> None:
    body = json.dumps([{"uuid": str(uuid4()), "data_hash": str(uuid4())}])
    assert len(decode_message(body, max_bytes=len(body)).tasks) == 1
