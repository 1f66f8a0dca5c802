"""What agents return and what the QueueRunner wrapper answers, plus the label-row fetch arguments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Self, TypeAlias
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from runner_core.outcomes import Outcome

if TYPE_CHECKING:
    from encord.objects.ontology_labels_impl import LabelRowV2

TaskAgentReturnPathway: TypeAlias = str | UUID | None
"""A pathway name, a pathway uuid (as UUID or str), or None to leave the task at its stage."""


@dataclass
class TaskAgentReturnStruct:
    """Return this from an agent to save labels and/or set a priority alongside the pathway."""

    pathway: TaskAgentReturnPathway = None
    """The pathway the task follows on completion (name or uuid); None keeps it at the stage."""
    label_row: LabelRowV2 | None = None
    """A label row to save (if present)."""
    label_row_priority: float | None = None
    """The priority to set on the task's label row (0.0 is a valid priority)."""


TaskAgentReturnType: TypeAlias = TaskAgentReturnPathway | TaskAgentReturnStruct


class LabelRowMetadataIncludeArgs(BaseModel):
    """Arguments passed to `project.list_label_rows_v2(...)` for the batch."""

    include_workflow_graph_node: bool = True
    include_client_metadata: bool = False
    include_images_data: bool = False
    include_all_label_branches: bool = False
    branch_name: str | None = None
    include_children: bool = False

    @model_validator(mode="after")
    def _one_branch_selector(self) -> Self:
        if self.branch_name and self.include_all_label_branches:  # truthiness, as encord-agents ("" means unset)
            raise ValueError("`branch_name` and `include_all_label_branches` cannot be used together")
        return self


class LabelRowInitialiseLabelsArgs(BaseModel):
    """Arguments passed to `label_row.initialise_labels(...)` for the batch."""

    include_object_feature_hashes: set[str] | None = None
    include_classification_feature_hashes: set[str] | None = None
    include_reviews: bool = False
    overwrite: bool = False
    include_signed_url: bool = False


class AgentTaskConfig(BaseModel):
    """One task as encord-agents' queue message carries it: what `AgentTask.model_dump_json()` gives, read back.

    The other fields of that dump (`created_at`, `status`, `assignee`, ...) are ignored. The runners decode messages
    with `runner_core.messages` (which also takes the envelope); this model is kept for code written against it.
    """

    task_uuid: UUID = Field(validation_alias="uuid", description="The task uuid (`uuid` in the message).")
    data_hash: UUID = Field(description="The data hash of the task's data unit.")
    data_title: str = Field(description="The data unit's title.")
    label_branch_name: str = Field(description="The branch of the task's labels.")


class PathwayRef(BaseModel):
    uuid: UUID
    name: str


class TaskResult(BaseModel):
    """One task of a `TaskCompletionResult`, aligned with the input order."""

    task_uuid: UUID | None
    outcome: Outcome
    pathway: PathwayRef | None = None
    retryable: bool = False
    error: str | None = None
    routed_to_failure_pathway: bool = False


class TaskCompletionResult(BaseModel):
    """The QueueRunner wrapper's answer (as JSON).

    The first five fields keep encord-agents' meaning: for one task, `success` is a bool and `pathway` the pathway
    uuid; for a batch, `task_uuid` lists the tasks, `success` the tasks that succeeded and `pathway` the pathways
    followed. `results` adds one aligned entry per task, which is what a consumer should read.
    """

    task_uuid: UUID | list[UUID] | None = None
    stage_uuid: UUID | None = None
    success: bool | list[UUID] = False
    pathway: UUID | list[UUID] | None = None
    error: str | None = None
    results: list[TaskResult] = Field(default_factory=list)


__all__ = [
    "AgentTaskConfig",
    "LabelRowInitialiseLabelsArgs",
    "LabelRowMetadataIncludeArgs",
    "PathwayRef",
    "TaskAgentReturnPathway",
    "TaskAgentReturnStruct",
    "TaskAgentReturnType",
    "TaskCompletionResult",
    "TaskResult",
]
