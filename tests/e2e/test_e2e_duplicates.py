"""At-least-once delivery: every message published twice, half of the copies concurrently, still moves each task once
and leaves one label on it."""

from __future__ import annotations

import threading

import pytest

from deploy.local.seeds import expected_stage, image_project_seed, write_seed
from deploy.local.stack import Stack
from deploy.local.testing import PathRun, agent_stage_uuid, start_path, task_envelope


def _bodies(run: PathRun) -> list[str]:
    stage_uuid = agent_stage_uuid(run.control, run.project_hash)
    return [task_envelope(run, stage_uuid, task) for task in run.tasks()]


@pytest.mark.timeout(120)
def test_every_message_twice_moves_each_task_once(cloud_stack: tuple[str, Stack]) -> None:
    cloud, stack = cloud_stack
    seed = write_seed(image_project_seed(bright=10, dark=10), stack.run_dir / "seed.yaml")
    run = start_path(stack, cloud, seed=seed)
    tasks = run.tasks()
    bodies = _bodies(run)
    half = len(bodies) // 2

    # First half: both copies published at the same moment from two threads. Second half: one copy, then another
    # once the first may already be in flight.
    senders = [threading.Thread(target=run.send, args=(bodies[:half],)) for _ in range(2)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    run.send(bodies[half:])
    run.send(bodies[half:])

    run.wait_settled(moved={t.task_uuid for t in tasks}, dead_letters=0, timeout_s=90)

    def all_copies_seen() -> bool:
        summary = run.summary()
        return summary.moved + summary.skipped >= 2 * len(tasks)

    run.wait_until(all_copies_seen, timeout_s=30, what="every copy to be processed")
    summary = run.summary()
    assert summary.moved_twice == []
    assert summary.moved == len(tasks)
    assert summary.skipped >= len(tasks)  # the second copy of each found its task gone and was acked
    final = {t.task_uuid: t for t in run.tasks()}
    answers = run.answers()
    for task in tasks:
        assert final[task.task_uuid].stage == expected_stage(task.data_title)
        assert answers[task.data_hash] == [task.data_title.split("-")[0]]  # one label, not two
    assert run.dead_letters() == []
