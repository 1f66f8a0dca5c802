"""`runner-core local demo`: the example agent over the demo project, through the AWS path and then the GCP path.

Starts the Encord emulator seeded with examples/demo/project.yaml, deploys the example agent as the consumer and
producer functions of each path with a task ledger (DynamoDB on moto, the Firestore emulator), runs the producer
several times while tasks are in flight, shows them flow, prints a summary (with agent runs per task), writes an HTML
report, and stops everything.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deploy.local.encord import EmulatorControl, classification_answers
from deploy.local.errors import ComponentUnavailableError, LocalStackError
from deploy.local.outcomes import read_outcomes, summarise
from deploy.local.report import PATH_TITLES, PathResult, write_report
from deploy.local.seeds import DEMO_SEED
from deploy.local.stack import (
    LEDGER_AWS_CONFIG,
    AwsPath,
    EncordAccess,
    GcpPath,
    GcpPathConfig,
    Stack,
    new_run_dir,
)

AGENT_STAGE = "pre-label"
PRODUCER_RUNS = 3  # the producer runs again while tasks are queued and in flight
PRODUCER_INTERVAL_S = 1.0
CLASSIFICATION = "brightness"


def _project_hash(control: EmulatorControl) -> str:
    return str(control.state()["projects"][0]["project_hash"])


def _watch(
    *,
    console: Console,
    label: str,
    total: int,
    waiting: Callable[[], int],
    drained: Callable[[], bool],
    timeout_s: float,
) -> None:
    """A progress bar of tasks leaving the agent stage, until none wait and the transport is empty."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task(label, total=total)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            left = waiting()
            progress.update(bar, completed=total - left)
            if left == 0 and drained():
                return
            time.sleep(0.2)
    raise LocalStackError(f"{label}: tasks still waiting after {timeout_s:.0f} s")


class RepeatedProducer(threading.Thread):
    """Runs the producer function `runs` times, `interval_s` apart, as a schedule tick and Encord's repeated
    webhook do in production while tasks are still queued or running: the task ledger keeps it to one agent run
    per task."""

    def __init__(self, path: AwsPath | GcpPath, *, runs: int, interval_s: float) -> None:
        super().__init__(name="demo-producer", daemon=True)
        self.path, self.total, self.interval_s = path, runs, interval_s
        self.runs = self.published = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for index in range(self.total):
                if index:
                    time.sleep(self.interval_s)
                summary = self.path.dispatch()
                self.runs += 1
                self.published += int(summary.get("tasks", 0)) if isinstance(summary, dict) else 0
        except BaseException as exc:  # reported by join()
            self.error = exc

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if self.error is not None:
            raise LocalStackError(f"the producer failed: {self.error}") from self.error


def run_path(
    *, name: str, path: AwsPath | GcpPath, encord: EncordAccess, console: Console, timeout_s: float
) -> PathResult:
    control = EmulatorControl(encord.url)
    project = _project_hash(control)
    total = control.stage_counts(project)[AGENT_STAGE]
    control.reset(state=False, requests=True, faults=False)
    result = PathResult(name=name, tasks=total)
    started = time.monotonic()
    producer = RepeatedProducer(path, runs=PRODUCER_RUNS, interval_s=PRODUCER_INTERVAL_S)
    producer.start()

    def waiting() -> int:
        return control.stage_counts(project)[AGENT_STAGE]

    def drained() -> bool:
        if isinstance(path, AwsPath):
            return path.depth() == 0
        return path.bridge is not None and path.bridge.idle_for() > 1.0

    label = f"{PATH_TITLES.get(name, name)}: tasks through {AGENT_STAGE}"
    try:
        _watch(console=console, label=label, total=total, waiting=waiting, drained=drained, timeout_s=timeout_s)
    finally:
        producer.join()
    result.seconds = time.monotonic() - started
    result.encord_requests = control.api_requests()
    summary = summarise(read_outcomes(path.stack.run_dir / "logs", prefix=path.log_prefix))
    result.moved_by_pathway = summary.moved_by_pathway
    result.held = summary.held
    result.agent_runs = summary.agent_runs
    result.duplicates_skipped = summary.skipped
    result.producer_runs = producer.runs
    result.published = producer.published
    tasks = control.tasks(project)
    result.failed = sum(1 for task in tasks if task.stage == AGENT_STAGE) - summary.held
    result.dead_lettered = len(path.collect_dead_letters())
    result.stages = Counter(task.stage for task in tasks)
    answers = classification_answers(
        url=encord.url, key_file=encord.key_file, project_hash=project, title=CLASSIFICATION
    )
    result.rows = [
        {
            "title": task.data_title,
            "type": task.data_type,
            "stage": task.stage,
            "answer": ", ".join(answers.get(task.data_hash, [])) or "-",
        }
        for task in sorted(tasks, key=lambda t: t.data_title)
    ]
    return result


def summary_table(results: list[PathResult]) -> Table:
    pathways = sorted({p for r in results for p in r.moved_by_pathway})
    table = Table(
        title="runner-core local demo", caption="aws: SQS -> Lambda (RIE); gcp: Pub/Sub -> functions-framework"
    )
    table.add_column("path")
    for pathway in pathways:
        table.add_column(f"-> {pathway}", justify="right")
    columns = ("held", "failed", "DLQ", "producer runs", "published", "agent runs/task", "requests", "time", "tasks/s")
    for column in columns:
        table.add_column(column, justify="right")
    for r in results:
        if r.skipped_reason is not None:
            table.add_row(r.name, *["-"] * (len(pathways) + len(columns)))
            continue
        table.add_row(
            r.name,
            *[str(r.moved_by_pathway.get(p, 0)) for p in pathways],
            str(r.held),
            str(r.failed),
            str(r.dead_lettered),
            str(r.producer_runs),
            str(r.published),
            f"{r.agent_runs_per_task:.2f}",
            str(r.encord_requests),
            f"{r.seconds:.1f} s",
            f"{r.tasks_per_s:.1f}",
        )
    return table


def run_demo(*, seed: Path = DEMO_SEED, console: Console | None = None, timeout_s: float = 180.0) -> int:
    """The whole demo; returns the process exit code."""
    console = console or Console()
    run_dir = new_run_dir()
    started = time.monotonic()
    results: list[PathResult] = []
    console.print(f"[bold]runner-core local demo[/] - logs in {run_dir}")
    with Stack(run_dir=run_dir) as stack:
        with console.status("starting the Encord emulator (seeding the demo project)"):
            encord = stack.encord_emulator(seed=seed)
        control = EmulatorControl(encord.url)
        for name in ("aws", "gcp"):
            control.reset()  # every path starts from the seeded project
            try:
                with console.status(f"{PATH_TITLES[name]}: starting the emulator, deploying the example agent"):
                    path: AwsPath | GcpPath = (
                        stack.aws_path(encord=encord, config=LEDGER_AWS_CONFIG)
                        if name == "aws"
                        else stack.gcp_path(encord=encord, config=GcpPathConfig(concurrency=8, ledger=True))
                    )
            except ComponentUnavailableError as exc:
                console.print(f"[yellow]{name}: skipped: {exc}[/]")
                results.append(PathResult(name=name, tasks=0, skipped_reason=str(exc)))
                continue
            results.append(run_path(name=name, path=path, encord=encord, console=console, timeout_s=timeout_s))
        with console.status("stopping the local stack"):
            stack.close()  # every process group and delivery thread
    console.print(summary_table(results))
    report = write_report(
        run_dir / "report.html",
        results=results,
        machine=f"{platform.node()} ({os.cpu_count()} CPUs, Python {platform.python_version()})",
        total_s=time.monotonic() - started,
    )
    console.print(f"report: {report}")
    ran = [r for r in results if r.skipped_reason is None]
    return 0 if ran and all(r.ok for r in ran) else 1
