"""The emulator's state and every operation on it.

Each operation validates its whole request before changing anything, and runs under one lock, so a bad entry
in a bundle leaves the state exactly as it was (Encord rejects such requests as a whole) and concurrent
clients never see half an update. Results are fresh JSON-ready structures, never references into the state.

Over ~400 lines on purpose for now: the wire operations and the test read helpers share one lock and one set of
records; splitting them (operations / read helpers) is a follow-up: issue 10 ran alongside the emulator branches
(#16 indexing, #18 peer suites) that rewrote this module, and left it to them to settle first.
"""

from __future__ import annotations

import base64
import copy
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from encord_emulator import branches, wire
from encord_emulator.build import SEED_TIME, build_state
from encord_emulator.catalog import Catalog, build_catalog, catalog_dump, catalog_ontology_dto
from encord_emulator.errors import InvalidArguments, NotAuthorised, NotFound
from encord_emulator.media import MediaFile
from encord_emulator.model import DataRow, Project, Stage, StorageItem
from encord_emulator.seed import SeedSpec
from encord_emulator.signing import UrlSigner

JSON = Any


def _now() -> datetime:
    return datetime.now(UTC)


def parse_uuid(value: object, what: str) -> UUID:
    if isinstance(value, UUID):
        return value
    if not isinstance(value, str):
        raise InvalidArguments(f"{what} must be a UUID string, got {type(value).__name__}")
    try:
        return UUID(value)
    except ValueError:
        raise InvalidArguments(f"{what} is not a valid UUID: {value!r}") from None


def first_value(query: Mapping[str, list[str]], key: str) -> str | None:
    """The first value of a parsed query-string parameter, None when absent."""
    values = query.get(key)
    return values[0] if values else None


def _wants_signed_urls(payload: JSON) -> bool:
    return bool(payload.get("get_signed_url")) if isinstance(payload, dict) else False


# Keyset pagination: a token names the last task returned, so tasks leaving the stage while a client pages
# (an agent proceeding each batch) never make it skip the ones behind them, as an offset would.
def _page_token(last_seq: int) -> str:
    return base64.urlsafe_b64encode(f"after:{last_seq}".encode()).decode()


def _page_after(token: str | None) -> int:
    if not token:
        return -1
    try:
        kind, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind != "after":
            raise ValueError(kind)
        return int(number)
    except (ValueError, UnicodeDecodeError):
        raise InvalidArguments(f"invalid pageToken {token!r}") from None


class EmulatorState:
    def __init__(self, seed: SeedSpec, *, root: Path, cache_dir: Path) -> None:
        self.lock = threading.RLock()
        self._seed = seed
        self._root = root
        self._cache_dir = cache_dir
        self.settings = seed.settings
        self.signer = UrlSigner(ttl_s=seed.settings.signed_url_ttl_s)
        self.projects: dict[UUID, Project] = {}
        self.items: dict[UUID, StorageItem] = {}
        self.catalog = Catalog()
        self.reset()

    def reset(self) -> None:
        """Back to the seed (media is cached, so this is cheap)."""
        built = build_state(
            self._seed.projects, root=self._root, cache_dir=self._cache_dir, datasets=self._seed.datasets
        )
        seeded_catalog = build_catalog(self._seed, datasets=built.datasets, created_at=SEED_TIME)
        with self.lock:
            self.projects = built.projects
            self.items = built.items
            self.catalog = seeded_catalog

    # ---- lookups -------------------------------------------------------------------------------------------

    def project(self, project_hash: object) -> Project:
        try:
            uuid = parse_uuid(project_hash, "project hash")
        except InvalidArguments:
            # No project a caller may use has such a hash: Encord answers a missing permission (403), not 400.
            raise NotAuthorised(f"You are not authorised to access project {project_hash}") from None
        project = self.projects.get(uuid)
        if project is None:
            raise NotFound(f"project {uuid} not found")
        return project

    def _stage(self, project: Project, stage_uuid: object) -> Stage:
        stage = project.stage(parse_uuid(stage_uuid, "stage uuid"))
        if stage is None:
            raise NotFound(f"stage {stage_uuid} not found in project {project.project_hash}")
        return stage

    def _item(self, item_uuid: object) -> StorageItem:
        uuid = parse_uuid(item_uuid, "item uuid")
        item = self.items.get(uuid)
        if item is None:
            raise NotFound(f"storage item {uuid} not found")
        return item

    def media(self, item_uuid: str) -> MediaFile | None:
        try:
            uuid = UUID(item_uuid)
        except ValueError:
            return None
        with self.lock:
            item = self.items.get(uuid)
            return item.media if item is not None else None

    # ---- projects, ontologies, workflow --------------------------------------------------------------------

    def project_dto(self, project_hash: str) -> JSON:
        with self.lock:
            return wire.project_dto(self.project(project_hash), owner=self.settings.owner_email)

    def ontology_dto(self, ontology_hash: str) -> JSON:
        uuid = parse_uuid(ontology_hash, "ontology hash")
        with self.lock:
            from_catalog = catalog_ontology_dto(self.catalog, uuid)
            if from_catalog is not None:
                return from_catalog
            for project in self.projects.values():
                if project.ontology_hash == uuid:
                    return wire.ontology_dto(project)
        raise NotFound(f"ontology {uuid} not found")

    def list_tasks(self, project_hash: str, stage_uuid: str, query: Mapping[str, list[str]]) -> JSON:
        data_hashes = {parse_uuid(v, "dataHashes") for v in query.get("dataHashes", [])}
        dataset_hashes = {parse_uuid(v, "datasetHashes") for v in query.get("datasetHashes", [])}
        statuses = set(query.get("statuses", []))
        emails = set(query.get("userEmails", []))
        title_contains = first_value(query, "dataTitleContains")
        after = _page_after(first_value(query, "pageToken"))
        needle = title_contains.lower() if title_contains is not None else None
        size = self.settings.page_size
        with self.lock:
            project = self.project(project_hash)
            stage = self._stage(project, stage_uuid)
            if (dataset_hashes and project.dataset_hash not in dataset_hashes) or emails:
                return {"results": [], "nextPageToken": None}  # nobody is assigned in the emulator
            candidates: Iterable[DataRow] = (
                sorted((project.rows[h] for h in data_hashes if h in project.rows), key=lambda row: row.seq)
                if data_hashes
                else project.rows_in_stage(stage.uuid, after=after)
            )
            page: list[DataRow] = []
            more = False
            for row in candidates:
                if (
                    row.seq <= after
                    or row.stage_uuid != stage.uuid
                    or (statuses and row.task_status not in statuses)
                    or (needle is not None and needle not in row.title.lower())
                ):
                    continue
                if len(page) == size:
                    more = True
                    break
                page.append(row)
            return {
                "results": [wire.task_dto(row) for row in page],
                "nextPageToken": _page_token(page[-1].seq) if more else None,
            }

    def apply_actions(self, project_hash: str, stage_uuid: str, actions: JSON) -> None:
        if not isinstance(actions, list):
            raise InvalidArguments("the actions body must be a JSON list")
        with self.lock:
            project = self.project(project_hash)
            stage = self._stage(project, stage_uuid)
            moves: list[tuple[DataRow, UUID]] = []
            seen: set[UUID] = set()
            for index, action in enumerate(actions):
                where = f"actions[{index}]"
                if not isinstance(action, dict):
                    raise InvalidArguments(f"{where} must be an object")
                kind = action.get("action")
                if kind != "PATHWAY_ACTION":
                    raise InvalidArguments(f"{where}: unsupported action {kind!r} (the emulator knows PATHWAY_ACTION)")
                task_uuid = parse_uuid(action.get("taskUuid"), f"{where}.taskUuid")
                row = self._task_row(project, task_uuid)
                if row.stage_uuid != stage.uuid or task_uuid in seen:
                    raise InvalidArguments(f"task {task_uuid} is not in stage {stage.title!r}")
                seen.add(task_uuid)
                name, uuid = action.get("pathwayName"), action.get("pathwayUuid")
                if name is None and uuid is None:
                    raise InvalidArguments(f"{where}: give pathwayName or pathwayUuid")
                if not isinstance(name, str | None) or not isinstance(uuid, str | None):
                    raise InvalidArguments(f"{where}: pathwayName and pathwayUuid must be strings")
                pathway = stage.pathway(name=name, uuid=uuid)
                if pathway is None:
                    raise InvalidArguments(f"pathway {uuid or name!r} does not exist in stage {stage.title!r}")
                moves.append((row, pathway.destination))
            for row, destination in moves:
                self._move(project, row, destination)

    def move_tasks(self, project_hash: str, stage_uuid: str, body: JSON) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("taskUuids"), list):
            raise InvalidArguments("body must be {taskUuids: [...], destinationStageUuid: ...}")
        with self.lock:
            project = self.project(project_hash)
            origin = self._stage(project, stage_uuid)
            destination = project.stage(parse_uuid(body.get("destinationStageUuid"), "destinationStageUuid"))
            if destination is None:
                raise InvalidArguments(f"destination stage {body.get('destinationStageUuid')} does not exist")
            rows = []
            for value in body["taskUuids"]:
                row = self._task_row(project, parse_uuid(value, "taskUuids[]"))
                if row.stage_uuid != origin.uuid:
                    raise InvalidArguments(f"task {row.task_uuid} is not in stage {origin.title!r}")
                rows.append(row)
            for row in rows:
                self._move(project, row, destination.uuid)

    def _task_row(self, project: Project, task_uuid: UUID) -> DataRow:
        data_hash = project.tasks.get(task_uuid)
        if data_hash is None:
            raise InvalidArguments(f"task {task_uuid} does not exist in project {project.project_hash}")
        return project.rows[data_hash]

    def _move(self, project: Project, row: DataRow, destination: UUID) -> None:
        stage = project.stage(destination)
        project.move_row(row, destination)
        row.task_status = "COMPLETED" if stage is not None and stage.stage_type == "DONE" else "NEW"
        row.touch(_now())

    def set_priorities(self, project_hash: str, body: JSON) -> None:
        entries = body.get("priorities") if isinstance(body, dict) else None
        if not isinstance(entries, list):
            raise InvalidArguments("body must be {priorities: [[data_hash, priority], ...]}")
        with self.lock:
            project = self.project(project_hash)
            updates: list[tuple[DataRow, float]] = []
            for entry in entries:
                if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], int | float)):
                    raise InvalidArguments(f"priority entry {entry!r} must be [data_hash, number]")
                row = project.rows.get(parse_uuid(entry[0], "data hash"))
                if row is None:
                    raise InvalidArguments(f"data unit {entry[0]} is not in project {project.project_hash}")
                if not 0.0 <= float(entry[1]) <= 1.0:
                    raise InvalidArguments(f"priority {entry[1]} is outside [0, 1]")
                updates.append((row, float(entry[1])))
            for row, priority in updates:
                row.priority = priority

    # ---- storage -------------------------------------------------------------------------------------------

    def _item_dto(self, item: StorageItem, *, sign: bool, base_url: str) -> JSON:
        signed = None
        if sign and item.media is not None:
            signed = self.signer.sign(base_url=base_url, item_uuid=item.uuid, name=item.name)
        return wire.storage_item_dto(item, signed_url=signed, owner=self.settings.owner_email)

    def storage_item(self, item_uuid: str, *, sign: bool, base_url: str) -> JSON:
        with self.lock:
            return self._item_dto(self._item(item_uuid), sign=sign, base_url=base_url)

    def storage_items(self, body: JSON, *, base_url: str) -> JSON:
        uuids = body.get("itemUuids") if isinstance(body, dict) else None
        if not isinstance(uuids, list):
            raise InvalidArguments("body must be {itemUuids: [...], signUrls: bool}")
        sign = bool(body.get("signUrls", False))
        with self.lock:
            items = [self._item(value) for value in uuids]
            return {"results": [self._item_dto(item, sign=sign, base_url=base_url) for item in items]}

    def child_items(self, folder_uuid: str, item_uuid: str, *, sign: bool, base_url: str) -> JSON:
        with self.lock:
            item = self._folder_item(folder_uuid, item_uuid)
            children = [self.items[child] for child in item.children]
            return {
                "results": [self._item_dto(child, sign=sign, base_url=base_url) for child in children],
                "nextPageToken": None,
            }

    def _folder_item(self, folder_uuid: str, item_uuid: str) -> StorageItem:
        item = self._item(item_uuid)
        if item.parent != parse_uuid(folder_uuid, "folder uuid"):
            raise NotFound(f"storage item {item_uuid} is not in folder {folder_uuid}")
        return item

    @staticmethod
    def _check_patch(patch: JSON, where: str) -> dict[str, Any]:
        if not isinstance(patch, dict):
            raise InvalidArguments(f"{where} must be an object")
        allowed = {"name", "description", "clientMetadata", "client_metadata", "timeseriesSettings"}
        unknown = set(patch) - allowed
        if unknown:
            raise InvalidArguments(f"{where}: unknown fields {sorted(unknown)}")
        metadata = patch.get("clientMetadata", patch.get("client_metadata"))
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidArguments(f"{where}.clientMetadata must be an object")
        for key in ("name", "description"):
            if patch.get(key) is not None and not isinstance(patch[key], str):
                raise InvalidArguments(f"{where}.{key} must be a string")
        return patch

    @staticmethod
    def _apply_patch(item: StorageItem, patch: dict[str, Any]) -> None:
        metadata = patch.get("clientMetadata", patch.get("client_metadata"))
        if metadata is not None:
            item.client_metadata = copy.deepcopy(metadata)  # replace, not merge (see the README)
        if patch.get("name") is not None:
            item.name = patch["name"]
        if patch.get("description") is not None:
            item.description = patch["description"]
        item.last_edited_at = _now()

    def patch_item(self, folder_uuid: str, item_uuid: str, body: JSON, *, base_url: str) -> JSON:
        patch = self._check_patch(body, "body")
        with self.lock:
            item = self._folder_item(folder_uuid, item_uuid)
            self._apply_patch(item, patch)
            return self._item_dto(item, sign=False, base_url=base_url)

    def patch_items(self, body: JSON, *, base_url: str) -> JSON:
        patches = body.get("itemPatches") if isinstance(body, dict) else None
        if not isinstance(patches, dict):
            raise InvalidArguments("body must be {itemPatches: {uuid: patch}}")
        with self.lock:
            checked = [
                (self._item(uuid), self._check_patch(patch, f"itemPatches[{uuid}]")) for uuid, patch in patches.items()
            ]
            for item, patch in checked:
                self._apply_patch(item, patch)
            return {"results": [self._item_dto(item, sign=False, base_url=base_url) for item, _ in checked]}

    # ---- label rows (legacy RPC) ---------------------------------------------------------------------------

    def label_row_metadata(self, project_hash: str, payload: JSON) -> JSON:
        query = payload if isinstance(payload, dict) else {}
        branch = str(query.get("branch_name") or branches.MAIN)
        with self.lock:
            project = self.project(project_hash)
            rows: Iterable[DataRow] = project.rows.values()
            if branch == branches.MAIN:
                named = wire.main_rows_by_label_hash(query, project)
                rows = wire.filter_metadata(rows if named is None else named, query, project)
            else:  # data-unit filters on the units, then label filters on the branch's own label rows
                unit_query = {k: v for k, v in query.items() if k not in branches.LABEL_FILTERS}
                label_query = {k: v for k, v in query.items() if k in branches.LABEL_FILTERS}
                rows = wire.filter_metadata(rows, unit_query, project)
                rows = wire.filter_metadata(branches.rows_on(project, rows, branch), label_query, project)
            return [wire.label_row_metadata(row, project, self.items[row.item_uuid], self.items, query) for row in rows]

    def create_label_rows(self, project_hash: str, uids: JSON, payload: JSON, *, base_url: str) -> JSON:
        data_hashes = self._uid_list(uids, "data hash")
        sign = _wants_signed_urls(payload)
        with self.lock:
            project = self.project(project_hash)
            rows = []
            for data_hash in data_hashes:
                row = project.rows.get(data_hash)
                if row is None:
                    raise NotFound(f"data unit {data_hash} is not in project {project.project_hash}")
                rows.append(row)
            branch = str((payload.get("branch_name") if isinstance(payload, dict) else None) or branches.MAIN)
            now = _now()
            rows = [branches.create_label(project, row, branch, now=now) for row in rows]
            return [self._blob_out(project, row, sign=sign, base_url=base_url) for row in rows]

    def get_label_rows(self, project_hash: str, uids: JSON, payload: JSON, *, base_url: str) -> JSON:
        label_hashes = self._uid_list(uids, "label hash")
        sign = _wants_signed_urls(payload)
        with self.lock:
            project = self.project(project_hash)
            rows = [self._label_row(project, label_hash) for label_hash in label_hashes]
            return [self._blob_out(project, row, sign=sign, base_url=base_url) for row in rows]

    def save_label_rows(self, project_hash: str, uids: JSON, payload: JSON) -> JSON:
        label_hashes = self._uid_list(uids, "label hash")
        labels = payload.get("labels") if isinstance(payload, dict) else None
        if not isinstance(labels, list) or len(labels) != len(label_hashes):
            raise InvalidArguments("payload.labels must be a list with one label row per uid")
        with self.lock:
            project = self.project(project_hash)
            updates: list[tuple[DataRow, dict[str, Any]]] = []
            for label_hash, blob in zip(label_hashes, labels, strict=True):
                row = self._label_row(project, label_hash)
                if not isinstance(blob, dict):
                    raise InvalidArguments(f"label row {label_hash} must be an object")
                if blob.get("label_hash") not in (None, str(label_hash)):
                    raise InvalidArguments(f"label row {label_hash}: body names label_hash {blob.get('label_hash')}")
                if blob.get("data_hash") not in (None, str(row.data_hash)):
                    raise InvalidArguments(f"label row {label_hash}: body names data_hash {blob.get('data_hash')}")
                if not isinstance(blob.get("data_units", {}), dict):
                    raise InvalidArguments(f"label row {label_hash}: data_units must be an object")
                updates.append((row, blob))
            now = _now()
            for row, blob in updates:
                row.label_blob = copy.deepcopy(blob)  # kept verbatim: returned as saved on the next GET
                row.label_edited_at = now
            return True

    def _uid_list(self, uids: JSON, what: str) -> list[UUID]:
        values = uids if isinstance(uids, list) else [uids]
        if not values or any(value is None for value in values):
            raise InvalidArguments(f"uid must name at least one {what}")
        return [parse_uuid(value, what) for value in values]

    def _label_row(self, project: Project, label_hash: UUID) -> DataRow:
        row = branches.labelled_row(project, label_hash)
        if row is None:
            raise NotFound(f"label row {label_hash} not found in project {project.project_hash}")
        return row

    def _blob_out(self, project: Project, row: DataRow, *, sign: bool, base_url: str) -> JSON:
        if row.label_blob is not None:
            blob = copy.deepcopy(row.label_blob)
        else:
            blob = wire.empty_label_blob(row, project, self.items)
        if sign or row.label_blob is None:
            wire.refresh_data_links(blob, row, self.items, self.signer, base_url=base_url, sign=sign)
        return blob

    # ---- read helpers for tests and the state dump ----------------------------------------------------------

    def _find_task(self, task_uuid: UUID) -> tuple[Project, DataRow] | None:
        for project in self.projects.values():
            data_hash = project.tasks.get(task_uuid)
            if data_hash is not None:
                return project, project.rows[data_hash]
        return None

    def task_stage(self, task_uuid: UUID | str) -> str:
        with self.lock:
            found = self._find_task(parse_uuid(str(task_uuid), "task uuid"))
            if found is None:
                raise KeyError(f"no task {task_uuid}")
            project, row = found
            stage = project.stage(row.stage_uuid)
            assert stage is not None
            return stage.title

    def tasks_in_stage(self, project_hash: UUID | str, title: str) -> list[str]:
        with self.lock:
            project = self.project(str(project_hash))
            stage = project.stage_by_title(title)
            if stage is None:
                raise KeyError(f"no stage titled {title!r}")
            return [str(row.task_uuid) for row in project.rows_in_stage(stage.uuid)]

    def _row_by_data_hash(self, data_hash: UUID | str, project_hash: UUID | str | None) -> DataRow:
        # Projects sharing a dataset share data hashes: without a project, the first project (seed order) wins.
        uuid = parse_uuid(str(data_hash), "data hash")
        projects = self.projects.values() if project_hash is None else [self.project(str(project_hash))]
        for project in projects:
            if uuid in project.rows:
                return project.rows[uuid]
        raise KeyError(f"no data unit {data_hash}")

    def label_blob(self, data_hash: UUID | str, *, project_hash: UUID | str | None = None) -> dict[str, Any] | None:
        with self.lock:
            blob = self._row_by_data_hash(data_hash, project_hash).label_blob
            return copy.deepcopy(blob) if blob is not None else None

    def priority(self, data_hash: UUID | str, *, project_hash: UUID | str | None = None) -> float:
        with self.lock:
            return self._row_by_data_hash(data_hash, project_hash).priority

    def task_of(self, project_hash: UUID | str, data_hash: UUID | str) -> str:
        """The task uuid of a data unit in one project (each project sharing a dataset has its own)."""
        with self.lock:
            return str(self._row_by_data_hash(data_hash, project_hash).task_uuid)

    def client_metadata(self, item_uuid: UUID | str) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self._item(str(item_uuid)).client_metadata)

    def dump(self) -> JSON:
        with self.lock:
            return {**wire.state_dump(self.projects, self.items), **catalog_dump(self.catalog)}
