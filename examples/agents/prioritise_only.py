"""Set a priority and nothing else: no label row parameter, no pathway (the task stays for people to pick up).

With `will_set_priority=True` the runner fetches the task's label row for the priority alone. Titles with `dark`
in them go first; the others get priority 0.0, which is a priority like any other.
"""

from __future__ import annotations

from encord.workflow.stages.agent import AgentTask

from runner_core import QueueRunner
from runner_core.models import TaskAgentReturnStruct, TaskCompletionResult

runner = QueueRunner(project_hash="5a1e0000-0000-4000-8000-000000000001")


@runner.stage("pre-label", will_set_priority=True)
def prioritise_only(task: AgentTask) -> TaskAgentReturnStruct:
    priority = 1.0 if "dark" in task.data_title else 0.0
    return TaskAgentReturnStruct(pathway=None, label_row_priority=priority)


if __name__ == "__main__":
    queue = [task.model_dump_json() for stage in runner.get_agent_stages() for task in stage.get_tasks()]
    for message in queue:
        print(TaskCompletionResult.model_validate_json(prioritise_only(message)))
