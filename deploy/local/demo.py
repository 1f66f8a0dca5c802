"""`runner-core local demo`: the example agent over the demo project, through the AWS path and then the GCP path.

Starts the Encord emulator seeded with examples/demo/project.yaml, deploys the example agent as the consumer and
producer functions of each path, enqueues the waiting tasks with the producer, shows them flow, prints a summary,
writes an HTML report, and stops everything.
"""

from __future__ import annotations

import os
import platform
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
from deploy.local.pubsub import DeliveryMode
from deploy.local.report import PATH_TITLES, PathResult, write_report
from deploy.local.seeds import DEMO_SEED
from deploy.local.stack import AwsPath, AwsPathConfig, EncordAccess, GcpPath, GcpPathConfig, Stack, new_run_dir

AGENT_STAGE = "pre-label"
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


def run_path(
    *, name: str, path: AwsPath | GcpPath, encord: EncordAccess, console: Console, timeout_s: float
) -> PathResult:
    control = EmulatorControl(encord.url)
    project = _project_hash(control)
    total = control.stage_counts(project)[AGENT_STAGE]
    control.reset(state=False, requests=True, faults=False)
    result = PathResult(name=name, tasks=total)
    started = time.monotonic()
    path.dispatch()

    def waiting() -> int:
        return control.stage_counts(project)[AGENT_STAGE]

    def drained() -> bool:
        if isinstance(path, AwsPath):
            return path.depth() == 0
        return path.bridge is not None and path.bridge.idle_for() > 1.0

    label = f"{PATH_TITLES.get(name, name)}: tasks through {AGENT_STAGE}"
    _watch(console=console, label=label, total=total, waiting=waiting, drained=drained, timeout_s=timeout_s)
    result.seconds = time.monotonic() - started
    result.encord_requests = control.api_requests()
    summary = summarise(read_outcomes(path.stack.run_dir / "logs", prefix=path.log_prefix))
    result.moved_by_pathway = summary.moved_by_pathway
    result.held = summary.held
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
    for column in ("held", "failed", "DLQ", "requests", "time", "tasks/s"):
        table.add_column(column, justify="right")
    for r in results:
        if r.skipped_reason is not None:
            table.add_row(r.name, *["-"] * (len(pathways) + 6))
            continue
        table.add_row(
            r.name,
            *[str(r.moved_by_pathway.get(p, 0)) for p in pathways],
            str(r.held),
            str(r.failed),
            str(r.dead_lettered),
            str(r.encord_requests),
            f"{r.seconds:.1f} s",
            f"{r.tasks_per_s:.1f}",
        )
    return table


def run_demo(
    *,
    seed: Path = DEMO_SEED,
    console: Console | None = None,
    timeout_s: float = 180.0,
    gcp_push_format: DeliveryMode = "push",
) -> int:
    """The whole demo; returns the process exit code. `gcp_push_format`: see GcpPathConfig.push_format."""
    console = console or Console()
    run_dir = new_run_dir()
    started = time.monotonic()
    results: list[PathResult] = []
    console.print(f"[bold]runner-core local demo[/] - logs in {run_dir}")
    with Stack(run_dir=run_dir) as stack:
        with console.status("starting the Encord emulator (seeding the demo project)"):
            encord = stack.encord_emulator(seed=seed)
        control = EmulatorControl(encord.url)
        gcp_config = GcpPathConfig(concurrency=8, push_format=gcp_push_format)
        for name in ("aws", "gcp"):
            control.reset()  # every path starts from the seeded project
            try:
                with console.status(f"{PATH_TITLES[name]}: starting the emulator, deploying the example agent"):
                    path: AwsPath | GcpPath = (
                        stack.aws_path(encord=encord, config=AwsPathConfig())
                        if name == "aws"
                        else stack.gcp_path(encord=encord, config=gcp_config)
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
