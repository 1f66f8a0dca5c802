"""Queue message formats: decode what arrives, encode what the producer publishes.

Two bodies are accepted (UTF-8 JSON, as str or bytes):
1. the envelope v1: `{"version": 1, "project_hash": "<uuid>", "stage_uuid": "<uuid>", "tasks": [<AgentTask>...]}`;
2. the encord-agents forms: one `AgentTask.model_dump_json()` object, or a JSON list of them. These carry no
   project or stage, so the runner supplies defaults.

Validation is hand-written rather than a pydantic model because a queue operator needs one precise sentence
("tasks[2].data_hash is not a UUID"), not a validation-error dump that may echo the whole payload.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from runner_core.errors import MessageDecodeError

if TYPE_CHECKING:
    from encord.workflow.stages.agent import AgentTask

ENVELOPE_VERSION = 1
SUPPORTED_VERSIONS = frozenset({ENVELOPE_VERSION})


@dataclass(frozen=True, slots=True)
class TaskRef:
    """One task as named by a message: enough to find it again at its stage."""

    uuid: UUID
    data_hash: UUID
    data_title: str | None = None
    label_branch_name: str | None = None
    updated_at: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class DecodedMessage:
    """A decoded body. `project_hash`/`stage_uuid` are None for the encord-agents forms."""

    tasks: tuple[TaskRef, ...]
    project_hash: str | None = None
    stage_uuid: UUID | None = None
    version: int | None = None  # None for the encord-agents forms


def decode_message(body: str | bytes | bytearray, *, max_bytes: int | None = None) -> DecodedMessage:
    """Decode one message body, or raise `MessageDecodeError` saying exactly what is wrong.

    `max_bytes` rejects a larger body before parsing it, so an oversized message is dead-lettered, not processed.
    """
    if not isinstance(body, str | bytes | bytearray):
        raise MessageDecodeError(f"message body must be str or bytes, not {type(body).__name__}")
    if max_bytes is not None:
        size = len(body.encode("utf-8")) if isinstance(body, str) else len(body)
        if size > max_bytes:
            raise MessageDecodeError(f"message body is {size} bytes, over the transport's limit of {max_bytes}")
    if isinstance(body, bytes | bytearray):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MessageDecodeError(f"message body is not UTF-8 (byte {exc.start})") from None
    if not body.strip():
        raise MessageDecodeError("message body is empty")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise MessageDecodeError(
            f"message body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise MessageDecodeError("message body is nested too deeply to decode") from None
    except ValueError as exc:  # an integer past Python's digit limit (int_max_str_digits), and the like
        raise MessageDecodeError(f"message body is not decodable JSON: {str(exc)[:120]}") from None

    if isinstance(data, list):
        return DecodedMessage(tasks=_decode_tasks(data, where="message"))
    if not isinstance(data, dict):
        raise MessageDecodeError(f"message must be a JSON object or list, not {_json_type(data)}")
    if "version" in data or "tasks" in data:
        return _decode_envelope(data)
    return DecodedMessage(tasks=(_decode_task(data, where="message"),))


def _decode_envelope(data: dict[str, Any]) -> DecodedMessage:
    version = data.get("version")
    if "version" not in data:
        raise MessageDecodeError("envelope: field 'version' is missing")
    if not isinstance(version, int) or isinstance(version, bool):
        raise MessageDecodeError(f"envelope: field 'version' must be an integer, not {_json_type(version)}")
    if version not in SUPPORTED_VERSIONS:
        supported = ", ".join(str(v) for v in sorted(SUPPORTED_VERSIONS))
        raise MessageDecodeError(f"envelope: unsupported version {version} (supported: {supported})")
    for key in ("project_hash", "stage_uuid", "tasks"):
        if key not in data:
            raise MessageDecodeError(f"envelope: field '{key}' is missing")
    project_hash = _uuid(data["project_hash"], where="envelope.project_hash")
    stage_uuid = _uuid(data["stage_uuid"], where="envelope.stage_uuid")
    tasks = data["tasks"]
    if not isinstance(tasks, list):
        raise MessageDecodeError(f"envelope.tasks must be a list, not {_json_type(tasks)}")
    return DecodedMessage(
        tasks=_decode_tasks(tasks, where="envelope.tasks"),
        project_hash=str(project_hash),
        stage_uuid=stage_uuid,
        version=version,
    )


def _decode_tasks(items: list[Any], *, where: str) -> tuple[TaskRef, ...]:
    if not items:
        raise MessageDecodeError(f"{where} holds no tasks")
    return tuple(_decode_task(item, where=f"{where}[{index}]") for index, item in enumerate(items))


def _decode_task(item: Any, *, where: str) -> TaskRef:
    if not isinstance(item, dict):
        raise MessageDecodeError(f"{where} must be a task object, not {_json_type(item)}")
    for key in ("uuid", "data_hash"):
        if key not in item:
            raise MessageDecodeError(f"{where}: field '{key}' is missing")
    return TaskRef(
        uuid=_uuid(item["uuid"], where=f"{where}.uuid"),
        data_hash=_uuid(item["data_hash"], where=f"{where}.data_hash"),
        data_title=_optional_str(item, "data_title", where=where),
        label_branch_name=_optional_str(item, "label_branch_name", where=where),
        updated_at=_optional_str(item, "updated_at", where=where),
        fields=dict(item),
    )


def _uuid(value: Any, *, where: str) -> UUID:
    if not isinstance(value, str):
        raise MessageDecodeError(f"{where} must be a UUID string, not {_json_type(value)}")
    try:
        return UUID(value)
    except ValueError:
        raise MessageDecodeError(f"{where} is not a valid UUID: {value[:64]!r}") from None


def _optional_str(item: Mapping[str, Any], key: str, *, where: str) -> str | None:
    value = item.get(key)
    if value is None or isinstance(value, str):
        return value
    raise MessageDecodeError(f"{where}.{key} must be a string, not {_json_type(value)}")


def _json_type(value: Any) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "a list"
        case dict():
            return "an object"
    return type(value).__name__


# --- encoding (the producer's side) -------------------------------------------------------------------------------


def task_payload(task: AgentTask | TaskRef | Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-ready dict of one task, in `AgentTask.model_dump_json()` field names."""
    if isinstance(task, TaskRef):
        payload = dict(task.fields)
        payload.update(uuid=str(task.uuid), data_hash=str(task.data_hash))
        return payload
    if isinstance(task, Mapping):
        payload = dict(task)
        for key in ("uuid", "data_hash"):
            if key in payload:
                payload[key] = str(payload[key])
        return payload
    return dict(json.loads(task.model_dump_json()))


def encode_task(task: AgentTask | TaskRef | Mapping[str, Any]) -> str:
    """The encord-agents single form: exactly what `AgentTask.model_dump_json()` gives for a live task."""
    if not isinstance(task, TaskRef | Mapping):
        return task.model_dump_json()
    return json.dumps(task_payload(task), separators=(",", ":"))


def encode_envelope(
    *, project_hash: str | UUID, stage_uuid: str | UUID, tasks: Iterable[AgentTask | TaskRef | Mapping[str, Any]]
) -> str:
    """The envelope v1 for N tasks of one (project, stage)."""
    payloads: Sequence[dict[str, Any]] = [task_payload(task) for task in tasks]
    if not payloads:
        raise ValueError("an envelope needs at least one task")
    envelope = {
        "version": ENVELOPE_VERSION,
        "project_hash": str(UUID(str(project_hash))),
        "stage_uuid": str(UUID(str(stage_uuid))),
        "tasks": payloads,
    }
    return json.dumps(envelope, separators=(",", ":"))


__all__ = [
    "ENVELOPE_VERSION",
    "DecodedMessage",
    "MessageDecodeError",
    "TaskRef",
    "decode_message",
    "encode_envelope",
    "encode_task",
    "task_payload",
]
