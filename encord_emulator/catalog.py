"""Ontologies, datasets and workflow templates as entities of their own, and projects made from them at run time.

A seed's `ontologies`, `datasets` and `workflow_templates` are what `EncordUserClient.create_project` names: the
project it creates gets the template's stages with the template's stage and pathway uuids (so code written against
a template's uuids works on every project made from it), the ontology's structure, and one task per data unit of
the dataset, in the template's first stage. Projects share their dataset's data hashes and storage items (as
projects attached to one dataset do on Encord) but keep their own tasks and labels. Deleting a project removes it
and nothing else. The operations here run under the state's lock like every other state change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from encord_emulator.build import add_row, build_editor
from encord_emulator.errors import InvalidArguments, NotFound
from encord_emulator.model import STAGE_TYPES, DataRow, Pathway, Project, Stage
from encord_emulator.seed import OntologySpec, SeedSpec, WorkflowTemplateSpec, derived_uuid
from encord_emulator.wire import iso

JSON = Any
# The legacy data-row listing's upper-case data types, by label-row data type.
_ROW_TYPES = {
    "image": "IMAGE",
    "video": "VIDEO",
    "img_group": "IMG_GROUP",
    "pdf": "PDF",
    "audio": "AUDIO",
    "plain_text": "PLAIN_TEXT",
    "group": "GROUP",
}


@dataclass(frozen=True, slots=True)
class CatalogOntology:
    uuid: UUID
    title: str
    editor: dict[str, Any]
    created_at: datetime


@dataclass(slots=True)
class Catalog:
    ontologies: dict[UUID, CatalogOntology] = field(default_factory=dict)
    # Dataset hash -> a stage-less project holding the dataset's data units (see `build._dataset_rows`).
    datasets: dict[UUID, Project] = field(default_factory=dict)
    templates: dict[UUID, WorkflowTemplateSpec] = field(default_factory=dict)


def build_catalog(seed: SeedSpec, *, datasets: dict[UUID, Project], created_at: datetime) -> Catalog:
    ontologies = {
        spec.ontology_hash: CatalogOntology(
            uuid=spec.ontology_hash,
            title=spec.title or "ontology",
            editor=build_editor(spec.ontology_hash, spec),
            created_at=created_at,
        )
        for spec in seed.ontologies
    }
    return Catalog(
        ontologies=ontologies,
        datasets=dict(datasets),
        templates={template.template_hash: template for template in seed.workflow_templates},
    )


def catalog_ontology_dto(catalog: Catalog, ontology_hash: UUID) -> JSON | None:
    """The `OntologyWithUserRole` of a catalog ontology, None when the catalog has none by that hash."""
    ontology = catalog.ontologies.get(ontology_hash)
    if ontology is None:
        return None
    return {
        "ontologyUuid": str(ontology.uuid),
        "title": ontology.title,
        "description": "",
        "editor": ontology.editor,
        "createdAt": iso(ontology.created_at),
        "lastEditedAt": iso(ontology.created_at),
        "userRole": 0,
    }


def catalog_dump(catalog: Catalog) -> JSON:
    """The catalog's part of `/_emulator/state`: what `create_project` can name."""
    return {
        "ontologies": [{"ontology_hash": str(o.uuid), "title": o.title} for o in catalog.ontologies.values()],
        "datasets": [
            {"dataset_hash": str(d.dataset_hash), "title": d.dataset_title, "data_units": len(d.rows)}
            for d in catalog.datasets.values()
        ],
        "workflow_templates": [
            {"template_hash": str(t.template_hash), "title": t.title, "stages": [s.title for s in t.stages]}
            for t in catalog.templates.values()
        ],
    }


def _template_stages(template: WorkflowTemplateSpec) -> list[Stage]:
    th = template.template_hash
    uuids = {stage.title: stage.uuid or derived_uuid(th, "stage", stage.title) for stage in template.stages}
    return [
        Stage(
            uuids[spec.title],
            spec.title,
            STAGE_TYPES[spec.type],
            [
                Pathway(
                    uuid=pathway.uuid or derived_uuid(th, "pathway", spec.title, name),
                    name=name,
                    destination=uuids[pathway.to],
                )
                for name, pathway in spec.pathway_specs().items()
            ],
        )
        for spec in template.stages
    ]


def _uuid(value: object, what: str) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise InvalidArguments(f"{what} is not a valid UUID: {value!r}") from None


def create_project(catalog: Catalog, projects: dict[UUID, Project], payload: JSON, *, now: datetime) -> str:
    """`create_project` (legacy `project` POST): a new project from a dataset, an ontology and a template."""
    if not isinstance(payload, dict):
        raise InvalidArguments("payload must be an object")
    title = payload.get("title")
    if not isinstance(title, str) or not title:
        raise InvalidArguments("title must be a non-empty string")
    dataset_hashes = payload.get("dataset_hashes")
    if not isinstance(dataset_hashes, list) or len(dataset_hashes) != 1:
        # Encord accepts several; the emulator's projects hold one dataset each (see the README).
        raise InvalidArguments("dataset_hashes must name exactly one dataset in the emulator")
    dataset = catalog.datasets.get(_uuid(dataset_hashes[0], "dataset hash"))
    if dataset is None:
        raise NotFound(f"dataset {dataset_hashes[0]} not found")
    template_id = payload.get("workflow_template_id")
    if template_id is None:
        raise InvalidArguments("the emulator creates projects from a workflow template only (workflow_template_hash)")
    template = catalog.templates.get(_uuid(template_id, "workflow template hash"))
    if template is None:
        raise NotFound(f"workflow template {template_id} not found")
    project_hash = uuid4()
    ontology_hash = payload.get("ontology_hash")
    if ontology_hash:
        ontology = catalog.ontologies.get(_uuid(ontology_hash, "ontology hash"))
        if ontology is None:
            raise NotFound(f"ontology {ontology_hash} not found")
    else:  # Encord makes a new, empty ontology for the project
        empty = derived_uuid(project_hash, "ontology")
        ontology = CatalogOntology(empty, f"{title} ontology", build_editor(empty, OntologySpec()), now)
        catalog.ontologies[empty] = ontology
    stages = _template_stages(template)
    description = payload.get("description")
    project = Project(
        project_hash=project_hash,
        title=title,
        description=description if isinstance(description, str) else "",
        created_at=now,
        ontology_hash=ontology.uuid,
        ontology_title=ontology.title,
        editor=ontology.editor,
        workflow_uuid=derived_uuid(project_hash, "workflow"),
        stages=stages,
        dataset_hash=dataset.dataset_hash,
        dataset_title=dataset.dataset_title,
    )
    for source in dataset.rows.values():
        add_row(
            project,
            data_hash=source.data_hash,
            title=source.title,
            data_type=source.data_type,
            task_uuid=derived_uuid(project_hash, "task", source.data_hash),
            stage=stages[0],
            status="NEW",
            priority=0.5,
            created_at=now,
        )
    projects[project_hash] = project
    return str(project_hash)


def delete_project(projects: dict[UUID, Project], uid: JSON) -> bool:
    """Legacy `project` DELETE: the project, its tasks and labels go; its dataset and storage items stay."""
    project_hash = _uuid(uid, "project hash")
    if projects.pop(project_hash, None) is None:
        raise NotFound(f"project {project_hash} not found")
    return True


def _dataset_holder(catalog: Catalog, projects: dict[UUID, Project], dataset_hash: UUID) -> tuple[Project, bool]:
    """The rows of a dataset: a catalog dataset's, or those of the first seed project attached to it."""
    holder = catalog.datasets.get(dataset_hash)
    if holder is not None:
        return holder, True
    for project in projects.values():
        if project.dataset_hash == dataset_hash:
            return project, False
    raise NotFound(f"dataset {dataset_hash} not found")


def project_datasets(catalog: Catalog, project: Project) -> JSON:
    """`GET /v2/public/projects/{p}/datasets`: a page of `ProjectDataset` (one dataset per project here)."""
    holder = catalog.datasets.get(project.dataset_hash)
    description = holder.description if holder is not None else ""
    return {
        "results": [
            {"datasetHash": str(project.dataset_hash), "title": project.dataset_title, "description": description}
        ],
        "nextPageToken": None,
    }


def dataset_dict(
    catalog: Catalog,
    projects: dict[UUID, Project],
    items: dict[UUID, Any],
    dataset_hash: str,
    payload: JSON,
) -> JSON:
    """Legacy `dataset` GET (`get_dataset`): the dataset and, unless told not to, its data rows."""
    holder, own = _dataset_holder(catalog, projects, _uuid(dataset_hash, "dataset hash"))
    settings = payload.get("dataset_access_settings") if isinstance(payload, dict) else None
    settings = settings if isinstance(settings, dict) else {}
    rows = []
    if settings.get("fetch_rows", True):
        metadata = bool(settings.get("fetch_client_metadata"))
        rows = [_data_row(row, items, metadata=metadata) for row in holder.rows.values()]
    folder = next((items[row.item_uuid].parent for row in holder.rows.values()), None)
    return {
        "dataset_hash": str(holder.dataset_hash),
        "title": holder.dataset_title,
        "description": holder.description if own else "",
        "dataset_type": "CORD_STORAGE",
        "backing_folder_uuid": str(folder) if folder is not None else None,
        "data_rows": rows,
    }


def _data_row(row: DataRow, items: dict[UUID, Any], *, metadata: bool) -> JSON:
    item = items[row.item_uuid]
    media = item.media
    visual = media is not None and media.mime_type.split("/")[0] in ("image", "video")
    created = iso(item.created_at.astimezone(UTC))
    return {
        "data_hash": row.data_hash_str,
        "data_title": row.title,
        "data_type": _ROW_TYPES[row.data_type],
        "created_at": created,
        "last_edited_at": iso(item.last_edited_at.astimezone(UTC)),
        "width": media.width if visual and media is not None else None,
        "height": media.height if visual and media is not None else None,
        "file_link": None,
        "file_size": media.size if media is not None else None,
        "file_type": media.mime_type if media is not None else None,
        "storage_location": 0,
        "frames_per_second": media.fps if media is not None else None,
        "duration": media.duration if media is not None else None,
        "signed_url": None,
        "is_optimised_image_group": False if row.data_type == "img_group" else None,
        "backing_item_uuid": str(item.uuid),
        "images_data": None,
        "client_metadata": dict(item.client_metadata) if metadata else None,
    }
