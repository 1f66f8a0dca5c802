"""`runner-core local demo`: an agent (the example one by default) over a seeded project, through each cloud path.

Starts the Encord emulator seeded with examples/demo/project.yaml (or `--seed`), deploys the `--target` runner as the
consumer and producer functions of each path with a task ledger (DynamoDB on moto, the Firestore emulator), runs the
producer several times while tasks are queued and in flight, shows them flow, prints a summary (with agent runs per
task), writes the HTML run report (runner_core.report), and stops everything.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deploy.local.encord import EmulatorControl
from deploy.local.errors import ComponentUnavailableError, LocalStackError
from deploy.local.outcomes import read_outcomes, summarise
from deploy.local.pubsub import DeliveryMode
from deploy.local.report import PATH_TITLES, path_section
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
from runner_core.report import Section, write_report

DEMO_TARGET = "examples.demo.agent:runner"
PRODUCER_RUNS = 3  # the producer runs again while tasks are queued and in flight
PRODUCER_INTERVAL_S = 1.0


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


@dataclass(frozen=True, slots=True)
class Traffic:
    """What the repeated producer and the ledger did on one path."""

    producer_runs: int
    published: int
    agent_runs: int  # completed agent runs (moved and held outcome lines)
    tasks: int

    @property
    def agent_runs_per_task(self) -> float:
        return self.agent_runs / self.tasks if self.tasks else 0.0


def _project_hash(control: EmulatorControl) -> str:
    return str(control.state()["projects"][0]["project_hash"])


def _watch(
    *,
    console: Console,
    label: str,
    total: int,
    waiting: Callable[[], int],
    settled: Callable[[int], bool],
    timeout_s: float,
) -> None:
    """A progress bar of tasks leaving the agent stages, until the rest are dead-lettered and the transport is idle."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task(label, total=total)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            left = waiting()
            progress.update(bar, completed=total - left)
            if settled(left):
                return
            time.sleep(0.2)
    raise LocalStackError(f"{label}: tasks still waiting after {timeout_s:.0f} s")


def run_path(
    *, name: str, path: AwsPath | GcpPath, encord: EncordAccess, console: Console, timeout_s: float
) -> tuple[Section, Traffic]:
    control = EmulatorControl(encord.url)
    project = _project_hash(control)
    agent_stages = control.agent_stage_titles(project)
    before = {task.task_uuid: task.stage for task in control.tasks(project)}
    total = sum(1 for stage in before.values() if stage in agent_stages)
    control.reset(state=False, requests=True, faults=False)
    started = time.monotonic()
    producer = RepeatedProducer(path, runs=PRODUCER_RUNS, interval_s=PRODUCER_INTERVAL_S)
    producer.start()

    def waiting() -> int:
        return sum(1 for task in control.tasks(project) if task.stage in agent_stages)

    def settled(left: int) -> bool:
        # A task that failed on its last attempt stays at its stage: its message in the dead-letter queue ends it.
        if left > len(path.collect_dead_letters()):
            return False
        if isinstance(path, AwsPath):
            return path.depth() == 0
        return path.bridge is not None and path.bridge.idle_for() > 1.0

    label = f"{PATH_TITLES.get(name, name)}: tasks through the agent stages"
    try:
        _watch(console=console, label=label, total=total, waiting=waiting, settled=settled, timeout_s=timeout_s)
    finally:
        producer.join()
    seconds = time.monotonic() - started
    runs = summarise(read_outcomes(path.stack.run_dir / "logs", prefix=path.log_prefix)).agent_runs
    traffic = Traffic(producer_runs=producer.runs, published=producer.published, agent_runs=runs, tasks=total)
    with console.status("reading back labels and pictures for the report"):
        section = path_section(
            name=name,
            encord=encord,
            project_hash=project,
            log_dir=path.stack.run_dir / "logs",
            log_prefix=path.log_prefix,
            before=before,
            seconds=seconds,
            encord_requests=control.api_requests(),
            dead_lettered=len(path.collect_dead_letters()),
        )
    return section, traffic


def summary_table(sections: list[Section], traffic: dict[str, Traffic] | None = None) -> Table:
    pathways = sorted({p for s in sections for p in s.pathways})
    table = Table(
        title="runner-core local demo", caption="aws: SQS -> Lambda (RIE); gcp: Pub/Sub -> functions-framework"
    )
    table.add_column("path")
    for pathway in pathways:
        table.add_column(f"-> {pathway}", justify="right")
    columns = ("held", "failed", "DLQ", "producer runs", "published", "agent runs/task", "requests", "time", "tasks/s")
    for column in columns:
        table.add_column(column, justify="right")
    for s in sections:
        if s.skipped_reason is not None:
            table.add_row(s.name, *["-"] * (len(pathways) + len(columns)))
            continue
        moved, seconds = sum(s.pathways.values()), s.seconds or 0.0
        seen = (traffic or {}).get(s.name)
        table.add_row(
            s.name,
            *[str(s.pathways.get(p, 0)) for p in pathways],
            str(s.outcomes.get("held", 0)),
            str(s.failed),
            str(s.dead_lettered or 0),
            str(seen.producer_runs) if seen else "-",
            str(seen.published) if seen else "-",
            f"{seen.agent_runs_per_task:.2f}" if seen else "-",
            str(s.encord_requests or 0),
            f"{seconds:.1f} s",
            f"{moved / seconds if seconds else 0.0:.1f}",
        )
    return table


def run_demo(
    *,
    seed: Path = DEMO_SEED,
    console: Console | None = None,
    timeout_s: float = 180.0,
    target: str = DEMO_TARGET,
    clouds: Sequence[str] = ("aws", "gcp"),
    gcp_push_format: DeliveryMode = "push",
) -> int:
    """The whole demo for `target` over `seed` on each of `clouds`; returns the process exit code.
    `gcp_push_format`: see GcpPathConfig.push_format."""
    console = console or Console()
    run_dir = new_run_dir()
    started = time.monotonic()
    sections: list[Section] = []
    traffic: dict[str, Traffic] = {}
    console.print(f"[bold]runner-core local demo[/] - {target} - logs in {run_dir}", highlight=False)
    with Stack(run_dir=run_dir) as stack:
        with console.status("starting the Encord emulator (seeding the project)"):
            encord = stack.encord_emulator(seed=seed)
        control = EmulatorControl(encord.url)
        gcp_config = GcpPathConfig(target=target, concurrency=8, push_format=gcp_push_format, ledger=True)
        for name in clouds:
            control.reset()  # every path starts from the seeded project
            try:
                with console.status(f"{PATH_TITLES[name]}: starting the emulator, deploying {target}"):
                    path: AwsPath | GcpPath = (
                        stack.aws_path(encord=encord, config=replace(LEDGER_AWS_CONFIG, target=target))
                        if name == "aws"
                        else stack.gcp_path(encord=encord, config=gcp_config)
                    )
            except ComponentUnavailableError as exc:
                console.print(f"[yellow]{name}: skipped: {exc}[/]")
                sections.append(Section(name=name, title=PATH_TITLES[name], skipped_reason=str(exc)))
                continue
            section, traffic[name] = run_path(name=name, path=path, encord=encord, console=console, timeout_s=timeout_s)
            sections.append(section)
        with console.status("stopping the local stack"):
            stack.close()  # every process group and delivery thread
    console.print(summary_table(sections, traffic))
    for section in sections:
        for record in section.ordered():
            if record.failed:
                console.print(
                    f"[red]{section.name}: {record.title!r} {record.outcome}: {record.error or '-'}", highlight=False
                )
    machine = f"{platform.node()} ({os.cpu_count()} CPUs, Python {platform.python_version()})"
    report = write_report(
        run_dir / "report.html",
        sections,
        title="runner-core local demo",
        note=f"{target} over {seed.name} on {machine}; whole run {time.monotonic() - started:.1f} s.",
    )
    console.print(f"report: {report}", highlight=False)
    ran = [s for s in sections if s.skipped_reason is None]
    return 0 if ran and all(s.ok for s in ran) else 1
