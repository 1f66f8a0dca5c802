"""Bad messages of every kind end in the dead-letter queue / topic with the function's reason, at once, while the
healthy messages sent around them are processed normally."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local.seeds import expected_stage, image_project_seed, write_seed
from deploy.local.stack import FAILURE_REASON_ATTRIBUTE, Stack
from deploy.local.testing import PathRun, agent_stage_uuid, envelope, fake_task, poison_bodies, start_path

UNKNOWN_PATHWAY_TITLE = "unknown-pathway.png"

# The functions load the test agent (tests/e2e/e2e_agents.py) from this folder.
E2E_DIR = Path(__file__).resolve().parent
TEST_AGENT = "e2e_agents:runner"


def oversized_body(run: PathRun, stage_uuid: str) -> str:
    """A well-formed envelope of ~300 KiB: larger than an SQS message may be by default (256 KiB). (On Pub/Sub, whose
    limit is 10 MB, such a body is a valid message: the size contract is tested at both limits in
    tests/integration/functions/test_functions_size_contract.py.)"""
    task = fake_task(data_title="x" * (300 * 1024))
    return envelope(project_hash=run.project_hash, stage_uuid=stage_uuid, tasks=[task])


@pytest.mark.timeout(150)
def test_every_kind_of_poison_is_dead_lettered_without_blocking_healthy_messages(
    cloud_stack: tuple[str, Stack],
) -> None:
    cloud, stack = cloud_stack
    seed = write_seed(
        image_project_seed(bright=6, dark=6, extra_images=(UNKNOWN_PATHWAY_TITLE,)), stack.run_dir / "s.yaml"
    )
    run = start_path(stack, cloud, seed=seed, target=TEST_AGENT, pythonpath=(E2E_DIR,))
    stage_uuid = agent_stage_uuid(run.control, run.project_hash)
    tasks = run.tasks()
    healthy = [t for t in tasks if t.data_title != UNKNOWN_PATHWAY_TITLE]
    (unknown_pathway_task,) = (t for t in tasks if t.data_title == UNKNOWN_PATHWAY_TITLE)
    poison = poison_bodies(run, stage_uuid)

    def task_body(task_uuid: str, data_hash: str) -> str:
        return envelope(
            project_hash=run.project_hash, stage_uuid=stage_uuid, tasks=[{"uuid": task_uuid, "data_hash": data_hash}]
        )

    # Interleave: two healthy tasks, one poison, ... so bad messages share batches with good ones.
    bodies: list[str] = [task_body(unknown_pathway_task.task_uuid, unknown_pathway_task.data_hash)]
    poison_queue = list(poison.values())
    for index, task in enumerate(healthy):
        bodies.append(task_body(task.task_uuid, task.data_hash))
        if index % 2 == 1 and poison_queue:
            bodies.append(poison_queue.pop())
    bodies += poison_queue
    run.send(bodies)

    expected_dead = len(poison) + 1  # + the task whose agent returned an unknown pathway
    run.wait_settled(moved={t.task_uuid for t in healthy}, dead_letters=expected_dead, timeout_s=40)

    final = {t.task_uuid: t for t in run.tasks()}
    for task in healthy:
        assert final[task.task_uuid].stage == expected_stage(task.data_title), task.data_title
    assert final[unknown_pathway_task.task_uuid].stage == "pre-label"
    summary = run.summary()
    assert summary.moved_twice == []
    assert summary.moved == len(healthy)

    letters = run.dead_letters()
    by_body = {letter.body.decode("utf-8", "replace"): letter for letter in letters}
    assert len(letters) == expected_dead, [letter.reason for letter in letters]
    for kind, body in poison.items():
        letter = by_body.get(body)
        assert letter is not None, f"{kind} is not in the dead-letter queue"
        # The function dead-lettered it with a reason (the transport's own redrive would carry none).
        assert letter.attributes.get(FAILURE_REASON_ATTRIBUTE), (kind, letter.reason, letter.attributes)
    unknown = by_body[task_body(unknown_pathway_task.task_uuid, unknown_pathway_task.data_hash)]
    assert "pathway" in (unknown.reason or "").lower()


@pytest.mark.timeout(60)
def test_an_oversized_sqs_message_is_dead_lettered_with_a_reason(aws_stack: Stack) -> None:
    stack = aws_stack
    seed = write_seed(image_project_seed(bright=1, dark=0), stack.run_dir / "seed.yaml")
    run = start_path(stack, "aws", seed=seed, target=TEST_AGENT, pythonpath=(E2E_DIR,), instances=1)
    body = oversized_body(run, agent_stage_uuid(run.control, run.project_hash))
    run.send([body])
    run.wait_until(lambda: bool(run.dead_letters()), timeout_s=8, what="the oversized message to be dead-lettered")
    (letter,) = run.dead_letters()
    assert letter.body.decode() == body
    assert "over the transport's limit" in (letter.attributes.get(FAILURE_REASON_ATTRIBUTE) or ""), letter.attributes
