"""Instance-scoped dependencies: once per instance across tasks, threads and event loops; teardown; overrides."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, cast

import pytest
from encord.workflow.stages.agent import AgentTask

from runner_core.context import BatchScope, TaskScope
from runner_core.di import Dependant, DependencyDefinitionError, DependencyResolutionError, Depends, analyze, solve
from runner_core.di.instance import InstanceScope

loads: Counter[str] = Counter()
closed: list[str] = []
first_use = threading.Event()


class Model:
    def __init__(self, name: str) -> None:
        self.name = name


def load_model() -> Model:
    loads["model"] += 1
    first_use.wait(timeout=5)  # every thread arrives while the first creation is still running
    return Model("real")


def load_tokenizer() -> Iterator[str]:
    loads["tokenizer"] += 1
    yield "tokenizer"
    closed.append("tokenizer")


def load_pipeline(
    model: Annotated[Model, Depends(load_model, scope="instance")],
    tokenizer: Annotated[str, Depends(load_tokenizer, scope="instance")],
) -> tuple[Model, str]:
    loads["pipeline"] += 1
    return model, tokenizer


def per_task(task: AgentTask) -> str:
    loads["per_task"] += 1
    return str(task)


def agent(
    task: AgentTask,
    pipeline: Annotated[tuple[Model, str], Depends(load_pipeline, scope="instance")],
    model: Model = Depends(load_model, scope="instance"),
    tag: str = Depends(per_task),
) -> str:
    assert pipeline[0] is model, "one value per instance, whichever parameter asks"
    return f"{model.name}:{pipeline[1]}:{tag}"


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    loads.clear()
    closed.clear()
    first_use.set()
    yield
    first_use.set()


def _task_scope(task: str) -> TaskScope:
    """A stand-in task where the runner puts the real one (the solver only hands it through)."""
    none = cast(Any, None)
    batch = BatchScope(project=none, stage=none, client=none, media=none, tasks=[])
    return TaskScope(batch=batch, task=cast(Any, task))


def _solve_and_call(dependant: Dependant, scope: InstanceScope, task: str, **kwargs: Any) -> str:
    async def one() -> str:
        async with contextlib.AsyncExitStack() as stack:
            solved = await solve(dependant, stack=stack, scope=_task_scope(task), instances=scope, **kwargs)
            return str(dependant.call(**solved))

    return asyncio.run(one())  # a new event loop each time, as separate batches may have


def test_created_once_across_many_tasks_threads_and_event_loops() -> None:
    dependant = analyze(agent, agent=True)
    scope = InstanceScope()
    first_use.clear()
    results: list[str] = []

    def five_tasks(i: int) -> None:
        results.extend(_solve_and_call(dependant, scope, f"t{i}") for _ in range(5))

    threads = [threading.Thread(target=five_tasks, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    first_use.set()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 40
    assert loads == {"model": 1, "tokenizer": 1, "pipeline": 1, "per_task": 40}
    assert set(results) == {f"real:tokenizer:t{i}" for i in range(8)}


def test_close_tears_down_generators_and_the_next_use_recreates() -> None:
    dependant = analyze(agent, agent=True)
    scope = InstanceScope()
    _solve_and_call(dependant, scope, "a")
    assert closed == []
    scope.close()
    assert closed == ["tokenizer"]
    _solve_and_call(dependant, scope, "b")
    assert loads["model"] == 2
    assert loads["tokenizer"] == 2


def test_overrides_replace_it_like_any_dependency() -> None:
    dependant = analyze(agent, agent=True)
    scope = InstanceScope()
    overrides = {load_model: lambda: Model("fake")}
    assert _solve_and_call(dependant, scope, "a", overrides=overrides) == "fake:tokenizer:a"
    assert _solve_and_call(dependant, scope, "b", overrides=overrides) == "fake:tokenizer:b"
    assert loads["model"] == 0, "the real model is never loaded"
    assert _solve_and_call(dependant, scope, "c") == "real:tokenizer:c", "without the override the real one loads"


def test_warm_creates_every_instance_dependency_before_the_first_task() -> None:
    scope = InstanceScope()
    assert scope.warm([analyze(agent, agent=True)]) == 3  # model, tokenizer and pipeline
    assert loads == {"model": 1, "tokenizer": 1, "pipeline": 1}
    _solve_and_call(analyze(agent, agent=True), scope, "a")
    assert loads["model"] == 1


failures = Counter[str]()


def flaky_load() -> str:
    failures["calls"] += 1
    if failures["calls"] == 1:
        raise OSError("model file not there yet")
    return "loaded"


def flaky_agent(value: str = Depends(flaky_load, scope="instance")) -> str:
    return value


def test_a_failed_creation_is_not_kept() -> None:
    dependant = analyze(flaky_agent, agent=True)
    scope = InstanceScope()
    with pytest.raises(DependencyResolutionError, match=r"instance-scoped dependency .*flaky_load .*OSError"):
        _solve_and_call(dependant, scope, "a")
    assert _solve_and_call(dependant, scope, "b") == "loaded"


async def async_session() -> AsyncIterator[str]:
    yield "session"


def takes_task(task: AgentTask) -> str:
    return str(task)


def on_task_scoped(tag: str = Depends(per_task)) -> str:
    return tag


def kept_on_recreated(model: Model = Depends(load_model, scope="instance")) -> str:
    return model.name


def test_a_kept_value_may_not_hold_a_recreated_one() -> None:
    def bad_agent(value: str = Depends(kept_on_recreated, scope="instance", on_restore="keep")) -> str:
        return value

    with pytest.raises(DependencyDefinitionError, match="kept across a snapshot restore but depends on model"):
        analyze(bad_agent, agent=True)


def test_after_restore_forgets_only_what_is_not_kept() -> None:
    def kept_agent(
        model: Model = Depends(load_model, scope="instance", on_restore="keep"),
        tokenizer: str = Depends(load_tokenizer, scope="instance"),
    ) -> str:
        return f"{model.name}:{tokenizer}"

    dependant = analyze(kept_agent, agent=True)
    scope = InstanceScope()
    scope.warm([dependant])
    assert scope.after_restore() == 1
    assert closed == ["tokenizer"], "the re-created value's teardown ran"
    scope.warm([dependant])
    assert loads == {"model": 1, "tokenizer": 2}


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (async_session, "is async; its value outlives the event loop"),
        (takes_task, r"takes task values \(task\)"),
        (on_task_scoped, "depends on task-scoped tag"),
    ],
)
def test_what_cannot_be_shared_is_refused_at_decoration(factory: Any, message: str) -> None:
    def bad_agent(value: str = Depends(factory, scope="instance")) -> str:
        return value

    with pytest.raises(DependencyDefinitionError, match=message):
        analyze(bad_agent, agent=True)
