"""The values a runner provides per task, and the annotations that ask for them."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

# These modules are already loaded by `import encord.user_client`, which every runner needs, so importing them here
# costs nothing at startup; matching annotations by identity needs the real classes.
from encord.objects.ontology_labels_impl import LabelRowV2
from encord.project import Project
from encord.storage import StorageItem
from encord.user_client import EncordUserClient
from encord.workflow.stages.agent import AgentStage, AgentTask

from runner_core.context import TaskScope

if TYPE_CHECKING:
    from collections.abc import Mapping


class Requirement(StrEnum):
    """Something the runner must fetch or provide before a task's dependencies can be solved."""

    PROJECT = "project"
    LABEL_ROW = "label_row"
    STORAGE_ITEM = "storage_item"
    AGENT_TASK = "agent_task"
    AGENT_STAGE = "agent_stage"
    USER_CLIENT = "user_client"
    TASK_SCOPE = "task_scope"


# Exact classes only (as the reference): a subclass is a different contract the runner cannot fulfil.
INJECTABLE_TYPES: Mapping[type, Requirement] = {
    Project: Requirement.PROJECT,
    LabelRowV2: Requirement.LABEL_ROW,
    StorageItem: Requirement.STORAGE_ITEM,
    AgentTask: Requirement.AGENT_TASK,
    AgentStage: Requirement.AGENT_STAGE,
    EncordUserClient: Requirement.USER_CLIENT,
    TaskScope: Requirement.TASK_SCOPE,
}


def value_from_scope(scope: TaskScope, requirement: Requirement) -> Any:
    """The value a `TaskScope` holds for `requirement` (None when the runner did not fetch it)."""
    match requirement:
        case Requirement.PROJECT:
            return scope.batch.project
        case Requirement.LABEL_ROW:
            return scope.label_row
        case Requirement.STORAGE_ITEM:
            return scope.storage_item
        case Requirement.AGENT_TASK:
            return scope.task
        case Requirement.AGENT_STAGE:
            return scope.batch.stage
        case Requirement.USER_CLIENT:
            return scope.batch.client
        case Requirement.TASK_SCOPE:
            return scope
