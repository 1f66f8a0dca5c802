"""Many SDK clients at once: every request answered, each task moved exactly once, no torn state."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from encord.exceptions import InvalidArgumentsError
from encord.workflow.stages.agent import AgentStage, AgentTask

from encord_emulator.testing import RunningEmulator


def test_racing_proceeds_move_each_task_exactly_once(emulator: RunningEmulator) -> None:
    project = emulator.client().get_project(emulator.project_hash)
    stage = project.workflow.get_stage(name="pre-label", type_=AgentStage)
    tasks = list(stage.get_tasks())

    def proceed(task: AgentTask) -> bool:
        try:
            task.proceed(pathway_name="annotate")
        except InvalidArgumentsError:
            return False
        return True

    # Every task is proceeded by two workers; the second must be told the task already left.
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(proceed, tasks + tasks))
    assert sum(outcomes) == len(tasks)
    assert len(emulator.state.tasks_in_stage(emulator.project_hash, "Annotate")) == len(tasks)


def test_parallel_label_saves_and_downloads_keep_every_row(emulator: RunningEmulator) -> None:
    client = emulator.client()
    project = client.get_project(emulator.project_hash)
    rows = project.list_label_rows_v2()

    def save(index: int) -> str:
        row = rows[index]
        row.initialise_labels()
        row.set_priority(index / 100)
        row.save()
        assert row.backing_item_uuid is not None
        item = client.get_storage_item(row.backing_item_uuid, sign_url=True)
        return item.name

    with ThreadPoolExecutor(max_workers=8) as pool:
        names = list(pool.map(save, range(len(rows))))
    assert names == [row.data_title for row in rows]
    for index, row in enumerate(rows):
        assert emulator.state.priority(row.data_hash) == index / 100
        assert emulator.state.label_blob(row.data_hash) is not None
