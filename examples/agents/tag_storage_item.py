"""Record the agent's decision in the storage item's client metadata, and return the pathway by *uuid*."""

from __future__ import annotations

from uuid import UUID

from encord.storage import StorageItem
from encord.workflow.stages.agent import AgentStage, AgentTask

from runner_core import QueueRunner
from runner_core.models import TaskCompletionResult

runner = QueueRunner(project_hash="5a1e0000-0000-4000-8000-000000000001")


@runner.stage("second-look")
def tag_storage_item(task: AgentTask, storage_item: StorageItem, stage: AgentStage) -> UUID:
    metadata = dict(storage_item.client_metadata or {})
    metadata["second_look"] = {"decision": "accept", "task": str(task.uuid)}
    storage_item.update(client_metadata=metadata)

    accept = next(pathway for pathway in stage.pathways if pathway.name == "accept")
    return accept.uuid


if __name__ == "__main__":
    queue = [task.model_dump_json() for stage in runner.get_agent_stages() for task in stage.get_tasks()]
    for message in queue:
        print(TaskCompletionResult.model_validate_json(tag_storage_item(message)))
