"""Wire shapes: what the SDK parses, built from the emulator's records.

Field names and required keys follow `docs/encord-wire-protocol.md` (shared docs) for SDK 0.1.211: v2 DTOs are
camelCase with every Optional-without-default key present; legacy label-row dicts are snake_case.

Over ~400 lines on purpose for now: every DTO builder here follows the one protocol document, and the
emulator-indexing and peer-suite branches (#16, #18) rewrote it while issue 10 ran; splitting it by resource
(projects, tasks, label rows, storage) is a follow-up now that they have landed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from encord_emulator.errors import InvalidArguments
from encord_emulator.media import MediaFile
from encord_emulator.model import DataRow, Project, StorageItem
from encord_emulator.signing import UrlSigner

_METADATA_TYPES = {
    "image": "IMAGE",
    "video": "VIDEO",
    "img_group": "IMG_GROUP",
    "pdf": "PDF",
    "audio": "AUDIO",
    "plain_text": "PLAIN_TEXT",
    "group": "GROUP",
}

_TASK_STATUS_BY_STAGE = {"AGENT": "QUEUED", "ANNOTATION": "QUEUED", "REVIEW": "IN_REVIEW", "DONE": "COMPLETED"}


def _visual(media: MediaFile | None) -> bool:
    """Whether the file has pixel dimensions (audio and text have none; Encord answers null for them)."""
    return media is not None and media.mime_type.split("/")[0] in ("image", "video")


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def long_time(moment: datetime | None) -> str | None:
    # The label blob's own date format ("Wed, 01 Jan 2025 00:00:00 UTC").
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S UTC") if moment is not None else None


def project_dto(project: Project, *, owner: str) -> dict[str, Any]:
    return {
        "projectHash": str(project.project_hash),
        "projectType": "workflow",
        "status": "inProgress",
        "title": project.title,
        "description": project.description,
        "createdAt": iso(project.created_at),
        "creatorEmail": owner,
        "lastEditedAt": iso(project.created_at),
        "ontologyHash": str(project.ontology_hash),
        "editorOntology": project.editor,
        "userRole": 0,
        "workflowManagerUuid": str(project.workflow_uuid),
        "workflow": {
            "stages": [
                {
                    "stageType": stage.stage_type,
                    "uuid": str(stage.uuid),
                    "title": stage.title,
                    **(
                        {
                            "pathways": [
                                {"uuid": str(p.uuid), "title": p.name, "destinationUuid": str(p.destination)}
                                for p in stage.pathways
                            ]
                        }
                        if stage.stage_type == "AGENT"
                        else {}
                    ),
                }
                for stage in project.stages
            ]
        },
    }


def ontology_dto(project: Project) -> dict[str, Any]:
    return {
        "ontologyUuid": str(project.ontology_hash),
        "title": project.ontology_title,
        "description": "",
        "editor": project.editor,
        "createdAt": iso(project.created_at),
        "lastEditedAt": iso(project.created_at),
        "userRole": 0,
    }


def task_dto(row: DataRow) -> dict[str, Any]:
    """The AgentTask shape; cached on the row until the task changes (serialised, never mutated)."""
    if row.task_dto is None:
        row.task_dto = _task_dto(row)
    return row.task_dto


def _task_dto(row: DataRow) -> dict[str, Any]:
    return {
        "uuid": str(row.task_uuid),
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
        "status": row.task_status,
        "dataHash": row.data_hash_str,
        "dataTitle": row.title,
        "labelBranchName": "main",
        "assignee": None,
        "lastActionedBy": None,
    }


def storage_item_dto(item: StorageItem, *, signed_url: str | None, owner: str) -> dict[str, Any]:
    media = item.media
    frames = media.frames if media is not None else None
    audio = media.audio if media is not None else None
    visual = _visual(media)
    return {
        "uuid": str(item.uuid),
        "parent": str(item.parent),
        "itemType": item.item_type,
        "name": item.name,
        "description": item.description,
        "clientMetadata": json.dumps(item.client_metadata),  # a JSON *string* on the wire
        "owner": owner,
        "createdAt": iso(item.created_at),
        "lastEditedAt": iso(item.last_edited_at),
        "isTombstone": False,
        "isPlaceholder": False,
        "backedDataUnitsCount": 1,
        "storageLocation": "encord",
        "integrationHash": None,
        "url": None,
        "signedUrl": signed_url,
        "fileSize": media.size if media is not None else None,
        "mimeType": media.mime_type if media is not None else None,
        "duration": media.duration if media is not None else None,
        "fps": media.fps if media is not None else None,
        "height": media.height if visual and media is not None else None,
        "width": media.width if visual and media is not None else None,
        "dicomInstanceUid": None,
        "dicomStudyUid": None,
        "dicomSeriesUid": None,
        "frameCount": frames if frames is not None else (len(item.children) or None),
        "audioSampleRate": audio.sample_rate if audio is not None else None,
        "audioBitDepth": audio.bit_depth if audio is not None else None,
        "audioCodec": audio.codec if audio is not None else None,
        "audioNumChannels": audio.channels if audio is not None else None,
    }


def _like(pattern: str) -> re.Pattern[str]:
    # SQL LIKE: % is any run, _ is one character.
    parts = ("." if ch == "_" else ".*" if ch == "%" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _moment(value: object, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidArguments(f"{what} is not an ISO date-time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _strings(query: Mapping[str, Any], key: str) -> set[str] | None:
    values = query.get(key)
    if values is None:
        return None
    if not isinstance(values, list):
        raise InvalidArguments(f"{key} must be a list")
    return {str(value) for value in values}


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


def main_rows_by_label_hash(query: Mapping[str, Any], project: Project) -> list[DataRow] | None:
    """The main-branch rows a query names by label hash, through the project's label index; None when it names
    data hashes (looked up by `filter_metadata`) or no label hashes. A value that is no UUID matches nothing."""
    label_hashes = _strings(query, "label_hashes")
    if label_hashes is None or query.get("data_hashes") is not None:
        return None
    found = (project.labels.get(UUID(value)) for value in label_hashes if _is_uuid(value))
    return sorted((project.rows[h] for h in found if h is not None), key=lambda row: row.seq)


def filter_metadata(rows: Iterable[DataRow], query: Mapping[str, Any], project: Project) -> list[DataRow]:
    data_hashes = _strings(query, "data_hashes")
    if data_hashes is not None:
        # Look the named rows up instead of scanning the project (a runner asks for one batch at a time).
        wanted = []
        for value in data_hashes:
            try:
                wanted.append(UUID(value))
            except ValueError:
                raise InvalidArguments(f"data_hashes: not a UUID: {value!r}") from None
        rows = sorted((project.rows[h] for h in wanted if h in project.rows), key=lambda row: row.seq)
    label_hashes = _strings(query, "label_hashes")
    statuses = _strings(query, "label_statuses")
    title_eq, title_like = query.get("data_title_eq"), query.get("data_title_like")
    stage_eq, stage_like = query.get("workflow_graph_node_title_eq"), query.get("workflow_graph_node_title_like")
    before = _moment(query.get("edited_before"), "edited_before")
    after = _moment(query.get("edited_after"), "edited_after")

    def stage_title(row: DataRow) -> str:
        stage = project.stage(row.stage_uuid)
        return stage.title if stage is not None else ""

    # Only the filters the request uses are applied (most requests name nothing but data hashes).
    checks: list[Callable[[DataRow], bool]] = []
    if label_hashes is not None:
        checks.append(lambda row: row.label_hash is not None and str(row.label_hash) in label_hashes)
    if statuses is not None:
        checks.append(lambda row: label_status(row) in statuses)
    if title_eq is not None:
        checks.append(lambda row: row.title == title_eq)
    if title_like is not None:
        title_re = _like(str(title_like))
        checks.append(lambda row: title_re.fullmatch(row.title) is not None)
    if stage_eq is not None:
        checks.append(lambda row: stage_title(row) == stage_eq)
    if stage_like is not None:
        stage_re = _like(str(stage_like))
        checks.append(lambda row: stage_re.fullmatch(stage_title(row)) is not None)
    if before is not None:
        checks.append(lambda row: row.label_edited_at is not None and row.label_edited_at <= before)
    if after is not None:
        checks.append(lambda row: row.label_edited_at is not None and row.label_edited_at >= after)
    return [row for row in rows if all(check(row) for check in checks)]


_LABEL_STATUSES = {"LABEL_IN_PROGRESS", "LABELLED", "REVIEW_IN_PROGRESS", "REVIEWED", "REVIEWED_TWICE"}


def label_status(row: DataRow) -> str:
    """NOT_LABELLED until the row exists, then what the last save said (in progress when it said nothing valid)."""
    if row.label_hash is None:
        return "NOT_LABELLED"
    status = (row.label_blob or {}).get("label_status")
    return status if status in _LABEL_STATUSES else "LABEL_IN_PROGRESS"


def _frame_count(row: DataRow, item: StorageItem) -> int:
    if row.data_type == "img_group":
        return len(item.children)
    if item.media is not None and item.media.frames is not None:
        return item.media.frames
    return 1


def label_row_metadata(
    row: DataRow, project: Project, item: StorageItem, items: Mapping[UUID, StorageItem], query: Mapping[str, Any]
) -> dict[str, Any]:
    stage = project.stage(row.stage_uuid)
    media = item.media
    status = label_status(row)
    first_child = items[item.children[0]].media if item.children and row.data_type == "img_group" else None
    shape = media if _visual(media) else first_child
    audio = media.audio if media is not None else None
    result: dict[str, Any] = {
        "label_hash": str(row.label_hash) if row.label_hash is not None else None,
        "branch_name": row.branch_name,
        "created_at": iso(row.label_created_at),
        "last_edited_at": iso(row.label_edited_at),
        "data_hash": row.data_hash_str,
        "dataset_hash": str(project.dataset_hash),
        "dataset_title": project.dataset_title,
        "data_title": row.title,
        "data_type": _METADATA_TYPES[row.data_type],
        "data_link": None,
        "label_status": status,
        "annotation_task_status": _TASK_STATUS_BY_STAGE.get(stage.stage_type if stage else "", "QUEUED"),
        "workflow_graph_node": (
            {"uuid": str(stage.uuid), "title": stage.title}
            if stage is not None and query.get("include_workflow_graph_node", True)
            else None
        ),
        "is_shadow_data": False,
        "number_of_frames": _frame_count(row, item),
        "duration": media.duration if media is not None else None,
        "frames_per_second": media.fps if media is not None else None,
        "height": shape.height if shape is not None else None,
        "width": shape.width if shape is not None else None,
        "spaces": {},
        "audio_codec": audio.codec if audio is not None else None,
        "audio_sample_rate": audio.sample_rate if audio is not None else None,
        "audio_num_channels": audio.channels if audio is not None else None,
        "audio_bit_depth": audio.bit_depth if audio is not None else None,
        "task_uuid": str(row.task_uuid),
        "priority": row.priority,
        "file_type": media.mime_type if media is not None else None,
        "is_valid": True,
        "backing_item_uuid": str(item.uuid),
        "client_metadata": dict(item.client_metadata) if query.get("include_client_metadata") else None,
        "assigned_user_email": None,
        "last_actioned_by_user_email": None,
    }
    if query.get("include_images_data") and row.data_type == "img_group":
        result["images_data"] = [
            {
                "data_hash": str(child),
                "title": items[child].name,
                "file_link": None,
                "file_type": child_media.mime_type,
                "file_size": child_media.size,
                "image_hash": str(child),
                "data_sequence": index,
                "width": child_media.width,
                "height": child_media.height,
            }
            for index, child in enumerate(item.children)
            if (child_media := items[child].media) is not None
        ]
    return result


def empty_label_blob(row: DataRow, project: Project, items: Mapping[UUID, StorageItem]) -> dict[str, Any]:
    """A fresh label row, in the shape `LabelRowV2.from_labels_dict` parses."""
    stage = project.stage(row.stage_uuid)
    item = items[row.item_uuid]
    units: dict[str, Any] = {}
    if row.data_type == "img_group":
        for index, child_uuid in enumerate(item.children):
            child = items[child_uuid]
            assert child.media is not None
            units[str(child_uuid)] = {
                "data_hash": str(child_uuid),
                "data_title": child.name,
                "data_link": "",
                "data_type": child.media.mime_type,
                "data_sequence": str(index),
                "width": child.media.width,
                "height": child.media.height,
                "labels": {},
            }
    elif row.data_type == "group":
        # A data group's one unit stands for the group; its members are storage items of their own.
        units[str(row.data_hash)] = {
            "data_hash": str(row.data_hash),
            "data_title": row.title,
            "data_type": "group",
            "data_sequence": 0,
            "labels": {},
        }
    else:
        media = item.media
        assert media is not None
        unit: dict[str, Any] = {
            "data_hash": str(row.data_hash),
            "data_title": row.title,
            "data_link": "",
            "data_type": media.mime_type,
            "data_sequence": 0,
            "labels": {},
        }
        if _visual(media) or row.data_type == "pdf":
            unit["width"], unit["height"] = media.width, media.height
        if row.data_type == "video":
            unit["data_duration"] = media.duration
            unit["data_fps"] = media.fps
        if media.audio is not None:
            unit["data_duration"] = media.audio.duration
            unit["audio_codec"] = media.audio.codec
            unit["audio_sample_rate"] = media.audio.sample_rate
            unit["audio_bit_depth"] = media.audio.bit_depth
            unit["audio_num_channels"] = media.audio.channels
        units[str(row.data_hash)] = unit
    return {
        "label_hash": str(row.label_hash),
        "branch_name": row.branch_name,
        "created_at": long_time(row.label_created_at),
        "last_edited_at": long_time(row.label_edited_at),
        "data_hash": str(row.data_hash),
        "dataset_hash": str(project.dataset_hash),
        "dataset_title": project.dataset_title,
        "data_title": row.title,
        "data_type": row.data_type,
        "annotation_task_status": _TASK_STATUS_BY_STAGE.get(stage.stage_type if stage else "", "QUEUED"),
        "is_shadow_data": False,
        "label_status": "LABEL_IN_PROGRESS",
        "spaces": {},
        "data_units": units,
        "object_answers": {},
        "classification_answers": {},
        "object_actions": {},
    }


def refresh_data_links(
    blob: dict[str, Any],
    row: DataRow,
    items: Mapping[UUID, StorageItem],
    signer: UrlSigner,
    *,
    base_url: str,
    sign: bool,
) -> None:
    units = blob.get("data_units")
    if not isinstance(units, dict):
        return
    url = signer.sign if sign else signer.unsigned
    for key, unit in units.items():
        if not isinstance(unit, dict):
            continue
        try:
            item = items.get(UUID(str(key))) or items[row.item_uuid]
        except (ValueError, KeyError):
            continue
        if item.media is None:  # a data group's unit: no file of its own
            continue
        unit["data_link"] = url(base_url=base_url, item_uuid=item.uuid, name=item.name)


def state_dump(projects: Mapping[UUID, Project], items: Mapping[UUID, StorageItem]) -> dict[str, Any]:
    return {
        "projects": [
            {
                "project_hash": str(project.project_hash),
                "title": project.title,
                "stages": [
                    {
                        "uuid": str(stage.uuid),
                        "title": stage.title,
                        "type": stage.stage_type,
                        "pathways": {p.name: {"uuid": str(p.uuid), "to": str(p.destination)} for p in stage.pathways},
                    }
                    for stage in project.stages
                ],
                "tasks": [
                    {
                        "task_uuid": str(row.task_uuid),
                        "data_hash": str(row.data_hash),
                        "data_title": row.title,
                        "data_type": row.data_type,
                        "stage": (project.stage(row.stage_uuid) or project.stages[0]).title,
                        "status": row.task_status,
                        "priority": row.priority,
                        "label_hash": str(row.label_hash) if row.label_hash is not None else None,
                        "label_status": label_status(row),
                        "labels_saved": row.label_blob is not None,
                    }
                    for row in project.rows.values()
                ],
            }
            for project in projects.values()
        ],
        "storage_items": {
            str(item.uuid): {"name": item.name, "type": item.item_type, "client_metadata": item.client_metadata}
            for item in items.values()
        },
    }
