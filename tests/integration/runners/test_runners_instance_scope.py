"""Instance-scoped dependencies through both runners against the emulator: one load across batches and threads."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Annotated

import pytest
from encord.workflow.stages.agent import AgentTask

from runner_core import Depends, Outcome, QueueRunner, SequentialRunner
from runner_core.di.instance import process_instances
from tests.integration.runners.rc_env import PRE_LABEL, Env, completion_result

loads: Counter[str] = Counter()


class Model:
    def __init__(self, pathway: str) -> None:
        self.pathway = pathway

    def predict(self, task: AgentTask) -> str:
        return self.pathway


def load_model() -> Model:
    loads["model"] += 1
    return Model("annotate")


ModelDep = Annotated[Model, Depends(load_model, scope="instance")]


@pytest.fixture(autouse=True)
def _fresh_instance() -> Iterator[None]:
    process_instances().close()
    loads.clear()
    yield
    process_instances().close()


def test_sequential_runner_loads_once_across_batches(env: Env) -> None:
    runner = SequentialRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    def label(task: AgentTask, model: ModelDep) -> str:
        return model.predict(task)

    tasks = env.tasks()
    summary = runner.run_stage(PRE_LABEL, task_batch_size=1)
    assert summary.counts[Outcome.MOVED] == len(tasks) > 5
    assert loads["model"] == 1


def test_queue_runner_loads_once_across_threads_and_overrides_work(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    def label(task: AgentTask, model: ModelDep) -> str:
        return model.predict(task)

    tasks = env.tasks()
    runner.dependency_overrides[load_model] = lambda: Model("skip")
    assert completion_result(label(tasks[0].model_dump_json())).success is True
    assert env.where(tasks[0]) == "Complete", "the override's model chose the skip pathway"
    assert loads["model"] == 0
    runner.dependency_overrides.clear()

    runner.warm_up()  # the real model, before the first task
    assert loads["model"] == 1
    results: list[str] = []
    threads = [threading.Thread(target=lambda t=task: results.append(label(t.model_dump_json()))) for task in tasks[1:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == len(tasks) - 1
    assert {env.where(t) for t in tasks[1:]} == {"Annotate"}
    assert loads["model"] == 1
