"""Turn a parsed seed into the emulator's records (projects, tasks, storage items, media)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from encord.objects.attributes import ChecklistAttribute, RadioAttribute, TextAttribute
from encord.objects.common import Shape
from encord.objects.ontology_structure import OntologyStructure

from encord_emulator.errors import MediaError, SeedError
from encord_emulator.media import (
    MediaFile,
    generate_audio,
    generate_image,
    generate_pdf,
    generate_text,
    generate_video,
    probe_audio,
    probe_image,
    probe_pdf,
    probe_text,
    probe_video,
    video_from_images,
)
from encord_emulator.model import STAGE_TYPES, DataRow, Pathway, Project, Stage, StorageItem
from encord_emulator.seed import (
    DataItemSpec,
    DatasetSpec,
    GenerateParams,
    MediaSource,
    OntologySpec,
    ProjectSpec,
    StageSpec,
    data_order,
    derived_uuid,
)

# A fixed creation time keeps state dumps of the same seed identical.
SEED_TIME = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class BuiltState:
    projects: dict[UUID, Project] = field(default_factory=dict)
    items: dict[UUID, StorageItem] = field(default_factory=dict)
    # Seed datasets (not projects): their data units as rows of a holder project, by dataset hash.
    datasets: dict[UUID, Project] = field(default_factory=dict)


def _feature_hash(*parts: object) -> str:
    return derived_uuid("feature", *parts).hex[:8]


def build_editor(project_hash: UUID, spec: OntologySpec) -> dict[str, Any]:
    """The ontology structure dict, produced by the SDK's own builder so it always parses."""
    structure = OntologyStructure()
    for obj in spec.objects:
        structure.add_object(
            name=obj.name,
            shape=Shape(obj.shape),
            color=obj.color,
            feature_node_hash=obj.feature_hash or _feature_hash(project_hash, "object", obj.name),
        )
    for cls in spec.classifications:
        classification = structure.add_classification(
            feature_node_hash=cls.feature_hash or _feature_hash(project_hash, "classification", cls.name)
        )
        attribute_hash = _feature_hash(project_hash, "attribute", cls.name)
        attribute: RadioAttribute | ChecklistAttribute | TextAttribute
        if cls.type == "radio":
            attribute = classification.add_attribute(
                RadioAttribute, cls.name, feature_node_hash=attribute_hash, required=cls.required
            )
        elif cls.type == "checklist":
            attribute = classification.add_attribute(
                ChecklistAttribute, cls.name, feature_node_hash=attribute_hash, required=cls.required
            )
        else:
            attribute = classification.add_attribute(
                TextAttribute, cls.name, feature_node_hash=attribute_hash, required=cls.required
            )
        if isinstance(attribute, RadioAttribute | ChecklistAttribute):
            for option in cls.options:
                attribute.add_option(option, feature_node_hash=_feature_hash(project_hash, "option", cls.name, option))
    return structure.to_dict()


def add_row(
    project: Project,
    *,
    data_hash: UUID,
    title: str,
    data_type: str,
    task_uuid: UUID,
    stage: Stage,
    status: str,
    priority: float,
    created_at: datetime,
) -> DataRow:
    """A data unit's row and task in `project`: the one place rows are made (seeded or created at run time)."""
    row = DataRow(
        data_hash=data_hash,
        title=title,
        data_type=data_type,
        item_uuid=data_hash,
        task_uuid=task_uuid,
        stage_uuid=stage.uuid,
        task_status=status,
        created_at=created_at,
        updated_at=created_at,
        priority=priority,
        seq=len(project.rows),
    )
    project.add_row(row)
    return row


class _MediaResolver:
    def __init__(self, *, root: Path, cache_dir: Path) -> None:
        self._root = root
        self._cache_dir = cache_dir

    def _path(self, relative: str) -> Path:
        path = Path(relative)
        path = path if path.is_absolute() else self._root / path
        if not path.is_file():
            raise SeedError(f"media file not found: {path}")
        return path

    def image(self, *, path: str | None, generate: GenerateParams | None) -> MediaFile:
        if path is not None:
            return probe_image(self._path(path))
        assert generate is not None  # guaranteed by the seed validators
        return generate_image(generate, cache_dir=self._cache_dir)

    def video(self, *, path: str | None, generate: GenerateParams | None) -> MediaFile:
        if path is not None:
            return probe_video(self._path(path))
        assert generate is not None
        return generate_video(generate, cache_dir=self._cache_dir)

    def file(self, kind: str, *, path: str | None, generate: GenerateParams | None) -> MediaFile:
        """The one file of an item (or data group member) of type `kind`."""
        if kind == "image":
            return self.image(path=path, generate=generate)
        if kind == "video":
            return self.video(path=path, generate=generate)
        probe, make = _DOCUMENT_MEDIA[kind]
        if path is not None:
            return probe(self._path(path))
        assert generate is not None
        return make(generate, cache_dir=self._cache_dir)

    def sequence(self, images: list[MediaFile], params: GenerateParams) -> MediaFile:
        return video_from_images(
            images, fps=params.fps, keyframe_interval=params.keyframe_interval, cache_dir=self._cache_dir
        )

    def group_images(self, spec: DataItemSpec, index: int) -> list[MediaFile]:
        if spec.images is not None:
            return [self.image(path=src.path, generate=src.generate) for src in spec.images]
        assert spec.generate is not None
        assert spec.image_count is not None
        base = spec.generate
        return [
            self.image(path=None, generate=base.model_copy(update={"seed": base.seed + 1000 * index + n}))
            for n in range(spec.image_count)
        ]


_DOCUMENT_MEDIA = {
    "pdf": (probe_pdf, generate_pdf),
    "audio": (probe_audio, generate_audio),
    "text": (probe_text, generate_text),
}
# Seed item type -> (storage item type, label-row data type), for the types backed by one file.
SINGLE_FILE_KINDS = {
    "image": ("image", "image"),
    "video": ("video", "video"),
    "pdf": ("pdf", "pdf"),
    "audio": ("audio", "audio"),
    "text": ("plainText", "plain_text"),
}


def _varied(params: GenerateParams | None, index: int) -> GenerateParams | None:
    # Items expanded from `count` get distinct pictures but share everything else.
    if params is None or index == 0:
        return params
    return params.model_copy(update={"seed": params.seed + index})


def _image_name(source: MediaSource | None, media: MediaFile, n: int) -> str:
    if source is not None and source.path is not None:
        return Path(source.path).name
    return f"image-{n:03d}{media.path.suffix}"


class _ProjectBuilder:
    def __init__(self, spec: ProjectSpec, *, state: BuiltState, media: _MediaResolver) -> None:
        self.spec = spec
        self.state = state
        self.media = media
        ph = spec.project_hash
        self.folder = derived_uuid(ph, "folder")
        shared = spec.shared_data()
        # Built after the project it names (see `data_order`), so its dataset is already here.
        self.source = state.projects[shared.project] if shared is not None else None
        self.project = Project(
            project_hash=ph,
            title=spec.title,
            description=spec.description,
            created_at=SEED_TIME,
            ontology_hash=spec.ontology.ontology_hash or derived_uuid(ph, "ontology"),
            ontology_title=spec.ontology.title or f"{spec.title} ontology",
            editor=build_editor(ph, spec.ontology),
            workflow_uuid=derived_uuid(ph, "workflow"),
            stages=[],
            dataset_hash=spec.dataset_hash or derived_uuid(ph, "dataset"),
            dataset_title=spec.dataset_title or f"{spec.title} dataset",
        )
        if self.source is not None:
            self.project.dataset_hash = self.source.dataset_hash
            self.project.dataset_title = self.source.dataset_title

    def build(self) -> Project:
        ph = self.spec.project_hash
        uuids = {stage.title: stage.uuid or derived_uuid(ph, "stage", stage.title) for stage in self.spec.stages}
        for stage_spec in self.spec.stages:
            pathways = [
                Pathway(
                    uuid=pathway.uuid or derived_uuid(ph, "pathway", stage_spec.title, name),
                    name=name,
                    destination=uuids[pathway.to],
                )
                for name, pathway in stage_spec.pathway_specs().items()
            ]
            self.project.stages.append(
                Stage(uuids[stage_spec.title], stage_spec.title, STAGE_TYPES[stage_spec.type], pathways)
            )
        for item_spec in self.spec.data:
            for index, title in enumerate(item_spec.titles()):
                self._add_item(item_spec, index, title)
        self._share_source_data()
        return self.project

    def _share_source_data(self) -> None:
        """One task per data unit of the source project: same data hash and storage item, own task and labels."""
        shared = self.spec.shared_data()
        if self.source is None or shared is None:
            return
        stage = self.project.stage_by_title(shared.stage or self.spec.stages[0].title)
        assert stage is not None  # validated by ProjectSpec
        ph = self.spec.project_hash
        for source_row in self.source.rows.values():
            self._add_row(
                data_hash=source_row.data_hash,
                title=source_row.title,
                data_type=source_row.data_type,
                task_uuid=derived_uuid(ph, "task", source_row.data_hash),
                stage=stage,
                status=shared.status,
                priority=0.5,
            )

    def _add_row(
        self,
        *,
        data_hash: UUID,
        title: str,
        data_type: str,
        task_uuid: UUID,
        stage: Stage,
        status: str,
        priority: float,
    ) -> None:
        add_row(
            self.project,
            data_hash=data_hash,
            title=title,
            data_type=data_type,
            task_uuid=task_uuid,
            stage=stage,
            status=status,
            priority=priority,
            created_at=SEED_TIME,
        )

    def _storage_item(
        self, uuid: UUID, item_type: str, name: str, media: MediaFile | None, spec: DataItemSpec | None
    ) -> StorageItem:
        if uuid in self.state.items:
            raise SeedError(f"duplicate data hash / storage item {uuid}")
        item = StorageItem(
            uuid=uuid,
            parent=self.folder,
            item_type=item_type,
            name=name,
            created_at=SEED_TIME,
            last_edited_at=SEED_TIME,
            media=media,
            client_metadata=dict(spec.client_metadata) if spec is not None else {},
        )
        self.state.items[uuid] = item
        return item

    def _add_item(self, spec: DataItemSpec, index: int, title: str) -> None:
        ph = self.spec.project_hash
        data_hash = spec.data_hash or derived_uuid(ph, "data", title, index)
        try:
            if spec.type in SINGLE_FILE_KINDS:
                item_type, data_type = SINGLE_FILE_KINDS[spec.type]
                media = self.media.file(spec.type, path=spec.path, generate=_varied(spec.generate, index))
                self._storage_item(data_hash, item_type, title, media, spec)
            elif spec.type == "data_group":
                group = self._storage_item(data_hash, "group", title, None, spec)
                data_type = "group"
                for n, member in enumerate(spec.members or []):
                    member_media = self.media.file(member.type, path=member.path, generate=member.generate)
                    child = derived_uuid(data_hash, "child", n)
                    name = member.title or (Path(member.path).name if member.path else f"{member.type}-{n}")
                    self._storage_item(child, SINGLE_FILE_KINDS[member.type][0], name, member_media, None)
                    group.children.append(child)
            else:
                images = self.media.group_images(spec, index)
                sources: list[MediaSource | None] = list(spec.images) if spec.images else [None] * len(images)
                if spec.type == "image_group":
                    group = self._storage_item(data_hash, "imageGroup", title, None, spec)
                    data_type = "img_group"
                else:
                    video = self.media.sequence(images, spec.generate or GenerateParams())
                    group = self._storage_item(data_hash, "imageSequence", title, video, spec)
                    data_type = "video"
                for n, (image, source) in enumerate(zip(images, sources, strict=True)):
                    child = derived_uuid(data_hash, "child", n)
                    self._storage_item(child, "image", _image_name(source, image, n), image, None)
                    group.children.append(child)
        except MediaError as exc:
            raise SeedError(f"item {title!r}: {exc}") from exc
        stage_title = spec.stage or self.spec.stages[0].title
        stage = self.project.stage_by_title(stage_title)
        assert stage is not None  # validated by ProjectSpec
        self._add_row(
            data_hash=data_hash,
            title=title,
            data_type=data_type,
            task_uuid=spec.task_uuid or derived_uuid(ph, "task", data_hash),
            stage=stage,
            status=spec.status,
            priority=spec.priority,
        )


def build_state(
    projects: list[ProjectSpec], *, root: Path, cache_dir: Path, datasets: list[DatasetSpec] | None = None
) -> BuiltState:
    state = BuiltState()
    resolver = _MediaResolver(root=root, cache_dir=cache_dir)
    for spec in data_order(projects):
        state.projects[spec.project_hash] = _ProjectBuilder(spec, state=state, media=resolver).build()
    # Seed order again: the first project is "the" project of `RunningEmulator.project_hash` and of dumps.
    state.projects = {spec.project_hash: state.projects[spec.project_hash] for spec in projects}
    for dataset in datasets or []:
        state.datasets[dataset.dataset_hash] = _dataset_rows(dataset, state=state, media=resolver)
    return state


def _dataset_rows(spec: DatasetSpec, *, state: BuiltState, media: _MediaResolver) -> Project:
    """A seed dataset's storage items, and its data units as the rows of a stage-less holder project.

    Built by the project builder (a dataset's items are exactly a project's data), so every item type works the
    same in both; projects created from the dataset copy these rows with tasks of their own.
    """
    holder = ProjectSpec(
        project_hash=spec.dataset_hash,
        title=spec.title,
        description=spec.description,
        dataset_hash=spec.dataset_hash,
        dataset_title=spec.title,
        stages=[StageSpec(title="dataset", type="done")],
        data=spec.data,
    )
    return _ProjectBuilder(holder, state=state, media=media).build()
