"""Test helpers for the local stack: one cloud path over a fresh Encord emulator, planted messages, and waiting.

```python
with Stack(run_dir=tmp_path) as stack:
    run = start_path(stack, "aws", seed=DEMO_SEED)
    run.path.dispatch()
    run.wait_settled(moved={t.task_uuid for t in run.tasks()}, dead_letters=0, timeout_s=60)
```
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.local import components
from deploy.local.encord import EmulatorControl, TaskView, classification_answers
from deploy.local.errors import LocalStackError
from deploy.local.outcomes import OutcomeSummary, read_outcomes, read_rejections, summarise
from deploy.local.pubsub import DeliveryMode
from deploy.local.stack import (
    LEDGER_AWS_CONFIG,
    AwsPath,
    AwsPathConfig,
    DeadLetter,
    EncordAccess,
    GcpPath,
    GcpPathConfig,
    Stack,
    wait_for,
)

DEMO_AGENT = "examples.demo.agent:runner"


@dataclass
class PathRun:
    """One cloud path wired to one emulator: what a test drives and inspects."""

    cloud: str  # "aws" or "gcp"
    stack: Stack
    encord: EncordAccess
    control: EmulatorControl
    path: AwsPath | GcpPath
    project_hash: str

    def send(self, bodies: Sequence[str]) -> None:
        if isinstance(self.path, GcpPath):
            # Pub/Sub refuses a message with neither data nor attributes; producers always set attributes.
            self.path.send(list(bodies), attributes={"sent_by": "e2e"})
        else:
            self.path.send(list(bodies))

    def tasks(self) -> list[TaskView]:
        return self.control.tasks(self.project_hash)

    def dead_letters(self) -> list[DeadLetter]:
        return self.path.collect_dead_letters()

    def summary(self) -> OutcomeSummary:
        log_dir = self.stack.run_dir / "logs"
        prefix = self.path.log_prefix
        return summarise(read_outcomes(log_dir, prefix=prefix), rejected_messages=len(read_rejections(log_dir)))

    def answers(self) -> dict[str, list[str]]:
        return classification_answers(
            url=self.encord.url, key_file=self.encord.key_file, project_hash=self.project_hash, title="brightness"
        )

    def wait_until(self, condition: Callable[[], bool], *, timeout_s: float, what: str) -> None:
        try:
            wait_for(condition, timeout_s=timeout_s, what=what, interval_s=0.3)
            return
        except LocalStackError:
            pass  # fail with what a test needs to see: the tasks still waiting and why messages died
        delivery = getattr(self.path, "poller", None) or getattr(self.path, "bridge", None)
        waiting = [task.data_title for task in self.tasks() if task.stage == "pre-label"]
        reasons = [letter.reason for letter in self.dead_letters()]
        raise AssertionError(
            f"timed out after {timeout_s:.0f} s waiting for {what}; still waiting: {waiting}; "
            f"dead letters: {reasons}; delivery: {getattr(delivery, 'stats', None)}"
        )

    def wait_settled(self, *, moved: set[str], dead_letters: int, timeout_s: float) -> None:
        """Until every task in `moved` left `pre-label` and at least `dead_letters` messages were dead-lettered."""

        def settled() -> bool:
            waiting = {task.task_uuid for task in self.tasks() if task.stage == "pre-label"}
            return not (moved & waiting) and len(self.dead_letters()) >= dead_letters

        self.wait_until(settled, timeout_s=timeout_s, what=f"{len(moved)} moves and {dead_letters} dead letters")


def start_path(
    stack: Stack,
    cloud: str,
    *,
    seed: Path,
    target: str = DEMO_AGENT,
    extra_env: Mapping[str, str] | None = None,
    fifo: bool = False,
    instances: int = 2,
    visibility_timeout_s: int | None = None,
    max_attempts: int = 3,
    gcp_concurrency: int | None = None,
    gcp_push_format: DeliveryMode = "push",
    pythonpath: Sequence[Path] = (),
    ledger: bool = False,
) -> PathRun:
    """Start a fresh Encord emulator for `seed` and the `cloud` path ("aws" or "gcp") running `target`.

    `pythonpath` adds folders the functions import from (e.g. a test's own agent module). `gcp_push_format`
    "push" (default, what the Terraform module deploys) serves `functions.gcp.consume_http` and delivers raw push
    bodies; "cloudevent" serves `functions.gcp.consume` and delivers Eventarc CloudEvents. `ledger` gives the
    path its task ledger (DynamoDB on moto / the Firestore emulator) with production's lease-vs-visibility rule.
    """
    if cloud not in ("aws", "gcp"):
        raise ValueError(f"unknown cloud path {cloud!r}")
    encord = stack.encord_emulator(seed=seed)
    paths = [str(components.REPO_ROOT), *(str(p) for p in pythonpath)]
    env = {"PYTHONPATH": os.pathsep.join(paths), **(extra_env or {})}
    path: AwsPath | GcpPath
    if cloud == "aws":
        path = stack.aws_path(
            encord=encord,
            config=AwsPathConfig(
                target=target,
                fifo=fifo,
                instances=instances,
                visibility_timeout_s=max(visibility_timeout_s or 0, LEDGER_AWS_CONFIG.visibility_timeout_s or 0)
                if ledger
                else visibility_timeout_s,
                max_receive_count=max_attempts,
                extra_env=env,
                ledger=ledger,
                function_timeout_s=(LEDGER_AWS_CONFIG if ledger else AwsPathConfig()).function_timeout_s,
            ),
        )
    else:
        path = stack.gcp_path(
            encord=encord,
            config=GcpPathConfig(
                target=target,
                concurrency=gcp_concurrency or 2 * instances,
                max_delivery_attempts=max(5, max_attempts),
                extra_env=env,
                push_format=gcp_push_format,
                ledger=ledger,
            ),
        )
    control = EmulatorControl(encord.url)
    project_hash = control.state()["projects"][0]["project_hash"]
    return PathRun(cloud=cloud, stack=stack, encord=encord, control=control, path=path, project_hash=str(project_hash))


def envelope(*, project_hash: str, stage_uuid: str, tasks: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps({"version": 1, "project_hash": project_hash, "stage_uuid": stage_uuid, "tasks": list(tasks)})


def task_envelope(run: PathRun, stage_uuid: str, task: TaskView) -> str:
    """The envelope the producer would send for one real task."""
    return envelope(
        project_hash=run.project_hash,
        stage_uuid=stage_uuid,
        tasks=[{"uuid": task.task_uuid, "data_hash": task.data_hash, "data_title": task.data_title}],
    )


def fake_task(**overrides: Any) -> dict[str, Any]:
    task: dict[str, Any] = {"uuid": str(uuid.uuid4()), "data_hash": str(uuid.uuid4()), "data_title": "x.png"}
    task.update(overrides)
    return task


def agent_stage_uuid(control: EmulatorControl, project_hash: str) -> str:
    for project in control.state()["projects"]:
        if project["project_hash"] == project_hash:
            for stage in project["stages"]:
                if stage["type"] == "AGENT":
                    return str(stage["uuid"])
    raise KeyError("no agent stage")


def poison_bodies(run: PathRun, stage_uuid: str) -> dict[str, str]:
    """Kind -> body. SQS refuses a zero-length body, so "empty" is whitespace there."""
    project = run.project_hash
    return {
        "not JSON": "this is {not json",
        "empty": "" if run.cloud == "gcp" else "   ",
        "wrong schema": json.dumps({"hello": "world"}),
        "unknown project": envelope(project_hash=str(uuid.uuid4()), stage_uuid=stage_uuid, tasks=[fake_task()]),
        "unknown stage": envelope(project_hash=project, stage_uuid=str(uuid.uuid4()), tasks=[fake_task()]),
        "invalid uuid": envelope(project_hash=project, stage_uuid=stage_uuid, tasks=[fake_task(uuid="not-a-uuid")]),
        "unsupported version": json.dumps({"version": 99, "project_hash": project, "stage_uuid": stage_uuid}),
        "tasks not a list": json.dumps({"version": 1, "project_hash": project, "stage_uuid": stage_uuid, "tasks": 7}),
    }
