"""`runner-core local watch`: a live view of the stack `local up` started, refreshed every second or so.

What it shows, each from where it is true: stage counts from the Encord emulator, queue depth / in flight / dead
letters from each transport, and the latest task outcomes from the functions' logs.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from deploy.local.encord import EmulatorControl
from deploy.local.outcomes import OutcomeLine, read_outcomes

RECENT = 8


@dataclass(frozen=True, slots=True)
class QueueView:
    path: str
    waiting: int | None  # None: the transport cannot tell (the Pub/Sub emulator reports no backlog)
    in_flight: int | None
    dead_letters: int | None


@dataclass(frozen=True, slots=True)
class WatchView:
    stages: list[tuple[str, str, str, int]]  # project title, stage title, stage type, tasks
    queues: list[QueueView]
    outcomes: Counter[str]
    recent: list[tuple[OutcomeLine, str]]  # the line and its task's data title
    taken_at: datetime = field(default_factory=datetime.now)
    problem: str | None = None


def _sqs_queue(name: str, path: dict[str, Any]) -> QueueView:
    from deploy.local.sqs import sqs_client

    sqs = sqs_client(path["AWS_ENDPOINT_URL"])

    def attributes(url: str) -> dict[str, str]:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        return dict(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"])

    queue, dlq = attributes(path["queue_url"]), attributes(path["dlq_url"])
    return QueueView(
        path=name,
        waiting=int(queue["ApproximateNumberOfMessages"]),
        in_flight=int(queue["ApproximateNumberOfMessagesNotVisible"]),
        dead_letters=int(dlq["ApproximateNumberOfMessages"]) + int(dlq["ApproximateNumberOfMessagesNotVisible"]),
    )


def snapshot(state: dict[str, Any]) -> WatchView:
    """Everything the view shows, read once (any part that cannot be read is reported, not raised)."""
    control = EmulatorControl(state["encord"]["ENCORD_DOMAIN"], timeout_s=5.0)
    stages: list[tuple[str, str, str, int]] = []
    titles: dict[str, str] = {}
    problem = None
    try:
        for project in control.state()["projects"]:
            counts = Counter(task["stage"] for task in project["tasks"])
            titles.update({task["task_uuid"]: task["data_title"] for task in project["tasks"]})
            for stage in project["stages"]:
                stages.append((project["title"], stage["title"], stage["type"], counts.get(stage["title"], 0)))
    except OSError as exc:  # requests' errors: the emulator is gone
        problem = f"the Encord emulator does not answer ({type(exc).__name__}); is the stack up?"
    queues = []
    for name, path in state["paths"].items():
        try:
            queues.append(_sqs_queue(name, path) if "queue_url" in path else QueueView(name, None, None, None))
        except Exception as exc:  # botocore's errors share no base with OSError; one path down must not end the view
            queues.append(QueueView(name, None, None, None))
            problem = problem or f"{name}: cannot read the queue ({type(exc).__name__})"
    lines = read_outcomes(Path(state["run_dir"]) / "logs")
    recent = sorted(lines, key=lambda line: line.time or "")[-RECENT:]
    return WatchView(
        stages=stages,
        queues=queues,
        outcomes=Counter(line.outcome for line in lines),
        recent=[(line, titles.get(line.task or "", line.task or "?")) for line in reversed(recent)],
        problem=problem,
    )


def _number(value: int | None) -> str:
    return "-" if value is None else str(value)


def render(view: WatchView) -> RenderableType:
    stages = Table(title="tasks per stage", title_justify="left")
    for column in ("project", "stage", "type", "tasks"):
        stages.add_column(column, justify="right" if column == "tasks" else "left")
    for project, stage, kind, count in view.stages:
        stages.add_row(project, stage, kind.lower(), str(count), style="bold" if kind == "AGENT" else None)
    queues = Table(title="transport", title_justify="left")
    for column in ("path", "queued", "in flight", "dead letters"):
        queues.add_column(column, justify="left" if column == "path" else "right")
    for q in view.queues:
        queues.add_row(q.path, _number(q.waiting), _number(q.in_flight), _number(q.dead_letters))
    totals = ", ".join(f"{outcome} {count}" for outcome, count in sorted(view.outcomes.items())) or "none yet"
    recent = Table(title=f"task outcomes: {totals}", title_justify="left")
    for column in ("function", "data unit", "outcome", "pathway / error"):
        recent.add_column(column)
    for line, title in view.recent:
        style = "red" if line.outcome == "failed" else None
        recent.add_row(line.source, title, line.outcome, line.pathway or line.error or "-", style=style)
    parts: list[RenderableType] = [Text(f"runner-core local watch - {view.taken_at:%H:%M:%S} - Ctrl-C to stop")]
    if view.problem:
        parts.append(Text(view.problem, style="yellow"))
    parts += [stages, queues, recent]
    return Group(*parts)


def watch(state: dict[str, Any], *, console: Console, interval_s: float = 1.0, once: bool = False) -> None:
    """Redraw the view every `interval_s` until Ctrl-C (or once, for scripts)."""
    if once:
        console.print(render(snapshot(state)))
        return
    with Live(render(snapshot(state)), console=console, auto_refresh=False) as live:
        try:
            while True:
                time.sleep(interval_s)
                live.update(render(snapshot(state)), refresh=True)
        except KeyboardInterrupt:
            return
