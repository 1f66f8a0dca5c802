"""The seed: a YAML document describing the projects, workflows, data and keys the emulator starts with.

The format is documented in `encord_emulator/README.md`. Parsing is strict (unknown keys are errors) so a
typo in a seed fails at start-up with the offending path instead of producing a silently different project.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from uuid import UUID, uuid5

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from encord_emulator.errors import SeedError
from encord_emulator.seed_errors import validation_lines, yaml_syntax_message

# Every id the seed does not spell out is derived from this namespace, so the same seed always yields the
# same uuids (a restarted CLI emulator keeps the task ids a developer copied).
_ID_NAMESPACE = UUID("6f0e2a52-5d1c-4c59-9a43-6b2f6c0b7e11")


def derived_uuid(*parts: object) -> UUID:
    return uuid5(_ID_NAMESPACE, "/".join(str(part) for part in parts))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GenerateParams(_Strict):
    """Parameters of synthesised media; they also key the on-disk media cache."""

    width: int = Field(default=320, ge=2, le=4096)
    height: int = Field(default=240, ge=2, le=4096)
    seed: int = 0
    # Images: overall brightness of the picture, handy for demo agents that classify it.
    brightness: Literal["bright", "dark"] | None = None
    # Videos and image sequences.
    frames: int = Field(default=30, ge=1, le=10_000)
    fps: float = Field(default=30.0, gt=0, le=240)
    keyframe_interval: int = Field(default=10, ge=1, le=1000)
    # Images only: the file format (a JPEG is what Encord's own sample data mostly is).
    format: Literal["png", "jpeg"] | None = None

    @field_validator("width", "height")
    @classmethod
    def _even(cls, value: int) -> int:
        # h264 with yuv420p needs even dimensions; images share the rule so one seed fits both.
        if value % 2:
            raise ValueError("must be even")
        return value


class MediaSource(_Strict):
    """One file: either an existing `path` (relative to the seed file) or `generate:` parameters."""

    path: str | None = None
    generate: GenerateParams | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> MediaSource:
        if (self.path is None) == (self.generate is None):
            raise ValueError("give exactly one of `path` or `generate`")
        return self


ItemType = Literal["image", "video", "image_group", "image_sequence", "pdf", "audio", "text", "data_group"]
MemberType = Literal["image", "video", "pdf", "audio", "text"]


class GroupMemberSpec(_Strict):
    """One file of a data group: its type, its title and where its file comes from."""

    type: MemberType
    title: str | None = None
    path: str | None = None
    generate: GenerateParams | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> GroupMemberSpec:
        if (self.path is None) == (self.generate is None):
            raise ValueError("give exactly one of `path` or `generate`")
        return self


class DataItemSpec(_Strict):
    type: ItemType
    # With `count` > 1 the title is a format string receiving `i` (0-based), e.g. "image-{i:03d}.png".
    title: str
    count: int = Field(default=1, ge=1, le=100_000)
    path: str | None = None
    generate: GenerateParams | None = None
    # Image groups and sequences: their images, or `image_count` images generated from `generate`.
    images: list[MediaSource] | None = None
    image_count: int | None = Field(default=None, ge=1, le=1000)
    # Data groups: their member files (each its own storage item, like the images of an image group).
    members: list[GroupMemberSpec] | None = None
    stage: str | None = None
    data_hash: UUID | None = None
    task_uuid: UUID | None = None
    status: Literal["NEW", "ASSIGNED", "RELEASED", "SKIPPED", "REOPENED", "COMPLETED"] = "NEW"
    priority: float = Field(default=0.5, ge=0.0, le=1.0)
    client_metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> DataItemSpec:
        grouped = self.type in ("image_group", "image_sequence")
        if (self.members is not None) != (self.type == "data_group"):
            raise ValueError("a data_group takes `members` (and nothing else); other types take no `members`")
        if self.type == "data_group":
            if self.path is not None or self.generate is not None or self.images is not None or self.image_count:
                raise ValueError("a data_group takes only `members`")
        elif grouped:
            if self.path is not None:
                raise ValueError(f"{self.type} takes `images` or `image_count` + `generate`, not `path`")
            if (self.images is None) == (self.image_count is None):
                raise ValueError(f"{self.type} needs exactly one of `images` or `image_count`")
            if self.image_count is not None and self.generate is None:
                raise ValueError("`image_count` needs `generate`")
        else:
            if self.images is not None or self.image_count is not None:
                raise ValueError(f"{self.type} takes `path` or `generate`, not `images`")
            if (self.path is None) == (self.generate is None):
                raise ValueError("give exactly one of `path` or `generate`")
        if self.count > 1 and (self.data_hash is not None or self.task_uuid is not None):
            raise ValueError("`data_hash`/`task_uuid` can only be fixed when `count` is 1")
        return self

    def titles(self) -> list[str]:
        if self.count == 1 and "{" not in self.title:
            return [self.title]
        try:
            return [self.title.format(i=i) for i in range(self.count)]
        except (KeyError, IndexError, ValueError) as exc:
            raise SeedError(f"title {self.title!r}: use `{{i}}` for the item index ({exc})") from exc


Shape = Literal["bounding_box", "rotatable_bounding_box", "polygon", "polyline", "point", "bitmask", "skeleton"]


class ObjectSpec(_Strict):
    name: str
    shape: Shape = "bounding_box"
    color: str | None = None
    feature_hash: str | None = None


class ClassificationSpec(_Strict):
    name: str
    type: Literal["radio", "checklist", "text"] = "radio"
    options: list[str] = Field(default_factory=list)
    required: bool = False
    feature_hash: str | None = None

    @model_validator(mode="after")
    def _options(self) -> ClassificationSpec:
        if self.type != "text" and not self.options:
            raise ValueError(f"a {self.type} classification needs `options`")
        return self


class OntologySpec(_Strict):
    ontology_hash: UUID | None = None
    title: str | None = None
    objects: list[ObjectSpec] = Field(default_factory=list)
    classifications: list[ClassificationSpec] = Field(default_factory=list)


class PathwaySpec(_Strict):
    to: str
    uuid: UUID | None = None


StageType = Literal["agent", "annotation", "review", "done"]


class StageSpec(_Strict):
    title: str
    type: StageType
    uuid: UUID | None = None
    # pathway name -> destination stage title (or {to, uuid})
    pathways: dict[str, str | PathwaySpec] = Field(default_factory=dict)

    def pathway_specs(self) -> dict[str, PathwaySpec]:
        return {
            name: target if isinstance(target, PathwaySpec) else PathwaySpec(to=target)
            for name, target in self.pathways.items()
        }


def check_stages(stages: list[StageSpec]) -> list[str]:
    """Validate a workflow's stages (unique titles, pathways to existing stages); their titles."""
    titles = [stage.title for stage in stages]
    if not titles:
        raise ValueError("a workflow needs at least one stage")
    if len(set(titles)) != len(titles):
        raise ValueError("stage titles must be unique")
    for stage in stages:
        if stage.pathways and stage.type != "agent":
            raise ValueError(f"stage {stage.title!r}: only agent stages have pathways here")
        for name, pathway in stage.pathway_specs().items():
            if pathway.to not in titles:
                raise ValueError(f"stage {stage.title!r} pathway {name!r}: no stage titled {pathway.to!r}")
    return titles


class DataFromSpec(_Strict):
    """Attach a project to another project's dataset: the same data units, its own tasks and labels."""

    project: UUID
    stage: str | None = None  # where the shared data's tasks start (default: the first stage)
    status: Literal["NEW", "ASSIGNED", "RELEASED", "SKIPPED", "REOPENED", "COMPLETED"] = "NEW"


class ProjectSpec(_Strict):
    project_hash: UUID
    title: str
    description: str = ""
    dataset_hash: UUID | None = None
    dataset_title: str | None = None
    # Another project of the seed whose data this project shares (a project hash, or {project, stage, status}).
    data_from: UUID | DataFromSpec | None = None
    ontology: OntologySpec = Field(default_factory=OntologySpec)
    stages: list[StageSpec]
    data: list[DataItemSpec] = Field(default_factory=list)

    def shared_data(self) -> DataFromSpec | None:
        if self.data_from is None or isinstance(self.data_from, DataFromSpec):
            return self.data_from
        return DataFromSpec(project=self.data_from)

    @model_validator(mode="after")
    def _workflow(self) -> ProjectSpec:
        titles = check_stages(self.stages)
        for item in self.data:
            if item.stage is not None and item.stage not in titles:
                raise ValueError(f"item {item.title!r}: no stage titled {item.stage!r}")
        shared = self.shared_data()
        if shared is not None:
            # One dataset per project here: the shared one, so no data or dataset of its own.
            if self.data or self.dataset_hash is not None or self.dataset_title is not None:
                raise ValueError("a project with `data_from` takes no `data`, `dataset_hash` or `dataset_title`")
            if shared.project == self.project_hash:
                raise ValueError("`data_from` names the project itself")
            if shared.stage is not None and shared.stage not in titles:
                raise ValueError(f"data_from: no stage titled {shared.stage!r}")
        return self


class RestrictedKeySpec(_Strict):
    """A public key allowed on the listed projects only (others answer the SDK's authorisation error)."""

    key: str
    projects: list[UUID]


class RestrictedTokenSpec(_Strict):
    """A bearer token allowed on the listed projects only."""

    token: str
    projects: list[UUID]


class AuthSpec(_Strict):
    # Raw Ed25519 public keys as 64 hex characters (what the SDK puts in its signatures), or
    # OpenSSH public key lines ("ssh-ed25519 AAAA..."); either form may be `{key, projects}` to restrict it.
    public_keys: list[str | RestrictedKeySpec] = Field(default_factory=list)
    bearer_tokens: list[str | RestrictedTokenSpec] = Field(default_factory=list)

    def key_grants(self) -> list[tuple[str, list[UUID] | None]]:
        """(public key, allowed projects or None for all) for every key."""
        return [(k, None) if isinstance(k, str) else (k.key, k.projects) for k in self.public_keys]

    def token_grants(self) -> list[tuple[str, list[UUID] | None]]:
        return [(t, None) if isinstance(t, str) else (t.token, t.projects) for t in self.bearer_tokens]


class SettingsSpec(_Strict):
    page_size: int = Field(default=100, ge=1, le=10_000)
    signed_url_ttl_s: float = Field(default=3600.0, gt=0)
    owner_email: str = "emulator@example.com"


class CatalogOntologySpec(OntologySpec):
    """An ontology of its own, which `create_project` can name (`ontology_hash` is required here)."""

    ontology_hash: UUID


class DatasetSpec(_Strict):
    """A dataset of its own: data that projects created at run time (`create_project`) attach to."""

    dataset_hash: UUID
    title: str
    description: str = ""
    data: list[DataItemSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_stages(self) -> DatasetSpec:
        if any(item.stage is not None for item in self.data):
            raise ValueError("dataset items take no `stage` (a project created from the dataset decides)")
        return self


class WorkflowTemplateSpec(_Strict):
    """A workflow template: the stages (and their uuids) every project created from it gets."""

    template_hash: UUID
    title: str = "workflow template"
    stages: list[StageSpec]

    @model_validator(mode="after")
    def _workflow(self) -> WorkflowTemplateSpec:
        check_stages(self.stages)
        return self


class SeedSpec(_Strict):
    version: Literal[1] = 1
    auth: AuthSpec = Field(default_factory=AuthSpec)
    settings: SettingsSpec = Field(default_factory=SettingsSpec)
    projects: list[ProjectSpec] = Field(default_factory=list)
    # Entities `create_project` builds projects from (encord_emulator/catalog.py).
    ontologies: list[CatalogOntologySpec] = Field(default_factory=list)
    datasets: list[DatasetSpec] = Field(default_factory=list)
    workflow_templates: list[WorkflowTemplateSpec] = Field(default_factory=list)


def load_seed(source: Path | str | dict[str, Any], *, base_dir: Path | None = None) -> tuple[SeedSpec, Path]:
    """Parse a seed from a YAML file or an already parsed mapping.

    Returns the spec and the directory that relative media paths resolve against.
    """
    path: Path | None = None
    text: str | None = None
    if isinstance(source, dict):
        raw: object = source
        root = base_dir if base_dir is not None else Path.cwd()
    else:
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SeedError(f"cannot read seed {path}: {exc.strerror or exc}") from exc
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SeedError(yaml_syntax_message(path, exc)) from None
        root = base_dir if base_dir is not None else path.resolve().parent
    if not isinstance(raw, dict):
        raise SeedError(f"{path or 'seed'}: a seed must be a mapping with a `projects` list")
    try:
        spec = SeedSpec.model_validate(raw)
    except ValidationError as exc:
        raise SeedError(validation_lines(exc, model=SeedSpec, source=path, text=text)) from None
    hashes = [project.project_hash for project in spec.projects]
    if len(set(hashes)) != len(hashes):
        raise SeedError("invalid seed: project hashes must be unique")
    _check_references(spec, set(hashes))
    return spec, root


def _check_references(spec: SeedSpec, hashes: set[UUID]) -> None:
    for project in spec.projects:
        shared = project.shared_data()
        if shared is not None and shared.project not in hashes:
            raise SeedError(f"invalid seed: project {project.project_hash} data_from: no project {shared.project}")
    data_order(spec.projects)  # raises on cycles
    for kind, ids in (
        ("ontology", [o.ontology_hash for o in spec.ontologies]),
        ("dataset", [d.dataset_hash for d in spec.datasets]),
        ("workflow template", [t.template_hash for t in spec.workflow_templates]),
    ):
        if len(set(ids)) != len(ids):
            raise SeedError(f"invalid seed: {kind} hashes must be unique")
    grants = [*spec.auth.key_grants(), *spec.auth.token_grants()]
    for name, projects in grants:
        unknown = [str(p) for p in projects or () if p not in hashes]
        if unknown:
            # Only a prefix of the credential: seeds may hold real-looking tokens and errors end up in logs.
            raise SeedError(f"invalid seed: auth entry {name[:8]}... names unknown projects {unknown}")


def data_order(projects: list[ProjectSpec]) -> list[ProjectSpec]:
    """The projects ordered so that each comes after the project it takes its data from."""
    by_hash = {project.project_hash: project for project in projects}
    ordered: list[ProjectSpec] = []
    placed: set[UUID] = set()
    for project in projects:
        chain: list[ProjectSpec] = []
        current: ProjectSpec | None = project
        while current is not None and current.project_hash not in placed:
            if any(member.project_hash == current.project_hash for member in chain):
                raise SeedError(f"invalid seed: `data_from` forms a cycle through project {current.project_hash}")
            chain.append(current)
            shared = current.shared_data()
            current = by_hash.get(shared.project) if shared is not None else None
        for member in reversed(chain):
            placed.add(member.project_hash)
            ordered.append(member)
    return ordered
