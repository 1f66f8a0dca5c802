"""Route every task by a rule on its storage item, returning the pathway by *name*.

Control images (file names ending in 0) need no annotation and are skipped; the rest go to people.
"""

from __future__ import annotations

from typing import Annotated

from encord.storage import StorageItem

from runner_core import Depends, QueueRunner
from runner_core.dependencies import dep_storage_item
from runner_core.models import TaskCompletionResult

runner = QueueRunner(project_hash="5a1e0000-0000-4000-8000-000000000001")


@runner.stage("pre-label")
def route_by_name(storage_item: Annotated[StorageItem, Depends(dep_storage_item)]) -> str:
    if storage_item.name.rsplit(".", 1)[0].endswith("0"):
        return "skip"
    return "annotate"


if __name__ == "__main__":
    queue = [task.model_dump_json() for stage in runner.get_agent_stages() for task in stage.get_tasks()]
    for message in queue:
        print(TaskCompletionResult.model_validate_json(route_by_name(message)))
