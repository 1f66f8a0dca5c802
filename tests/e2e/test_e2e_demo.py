"""The demo project through each cloud path: the producer function enqueues every waiting task, the consumer function
runs the example agent, and every task ends in the stage its pathway names, exactly once, with its label saved."""

from __future__ import annotations

from collections import Counter

import pytest

from deploy.local.pubsub import DeliveryMode
from deploy.local.seeds import DEMO_SEED
from deploy.local.stack import Stack
from deploy.local.testing import DEMO_AGENT, PathRun, start_path
from runner_core.di.instance import INSTANCE_DEPENDENCY_CREATED

STAGE_OF_PATHWAY = {"annotate": "Annotate", "skip": "Complete"}
ANSWER_OF_PATHWAY = {"annotate": "bright", "skip": "dark"}


def _check_demo_run(
    cloud: str, stack: Stack, *, fifo: bool = False, push_format: DeliveryMode = "push", target: str = DEMO_AGENT
) -> PathRun:
    run = start_path(stack, cloud, seed=DEMO_SEED, target=target, fifo=fifo, gcp_push_format=push_format)
    tasks = run.tasks()
    assert len(tasks) == 28
    assert {t.stage for t in tasks} == {"pre-label"}

    dispatched = run.path.dispatch()
    assert dispatched["tasks"] == len(tasks)
    run.wait_settled(moved={t.task_uuid for t in tasks}, dead_letters=0, timeout_s=90)

    final = {t.task_uuid: t for t in run.tasks()}
    summary = run.summary()
    assert summary.moved_twice == []
    assert sorted(summary.moves_per_task) == sorted(final), "every task moved, each by exactly one function call"
    answers = run.answers()
    pathways: Counter[str] = Counter()
    for task in final.values():
        # The image titles say what the agent must see; videos and the image group are judged by their answer.
        (answer,) = answers[task.data_hash]  # one classification instance: the label saved once
        if task.data_title.startswith(("bright", "dark")):
            assert answer == task.data_title.split("-")[0], task.data_title
        pathway = next(p for p, a in ANSWER_OF_PATHWAY.items() if a == answer)
        assert task.stage == STAGE_OF_PATHWAY[pathway], task.data_title
        assert task.labels_saved
        pathways[pathway] += 1
    assert summary.moved_by_pathway == pathways
    assert run.dead_letters() == []
    return run


@pytest.mark.timeout(120)
def test_demo_project_through_each_cloud_path(cloud_stack: tuple[str, Stack]) -> None:
    cloud, stack = cloud_stack
    _check_demo_run(cloud, stack)


@pytest.mark.timeout(120)
def test_ml_example_labels_the_demo_through_each_cloud_path(cloud_stack: tuple[str, Stack]) -> None:
    """examples/ml: the same answers from a real onnxruntime model, loaded once per function instance."""
    cloud, stack = cloud_stack
    run = _check_demo_run(cloud, stack, target="examples.ml.agent:runner")
    # Every consumer process logs each instance-scoped creation: one model load per process, for 28 tasks.
    loads = Counter[str]()
    for path in (stack.run_dir / "logs").glob(f"{run.path.log_prefix}*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if INSTANCE_DEPENDENCY_CREATED in line and "load_model" in line:
                loads[path.stem] += 1
    assert loads, "the consumers logged their model load"
    assert set(loads.values()) == {1}, loads


@pytest.mark.timeout(120)
def test_demo_project_through_a_fifo_queue(aws_stack: Stack) -> None:
    _check_demo_run("aws", aws_stack, fifo=True)


@pytest.mark.timeout(120)
def test_demo_project_through_an_eventarc_trigger(gcp_stack: Stack) -> None:
    """The other GCP deployment: an Eventarc trigger's binary CloudEvent reaching functions.gcp.consume (the
    default, push_format="push", is the module's push subscription with consume_http)."""
    _check_demo_run("gcp", gcp_stack, push_format="cloudevent")
