"""The demo's HTML report: one self-contained page (no scripts, no external assets) with the result of each path."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

PATH_TITLES = {"aws": "AWS: SQS -> Lambda", "gcp": "GCP: Pub/Sub -> Cloud Functions"}


@dataclass
class PathResult:
    """What one cloud path did to the project."""

    name: str
    tasks: int
    moved_by_pathway: Counter[str] = field(default_factory=Counter)
    held: int = 0
    failed: int = 0
    dead_lettered: int = 0
    encord_requests: int = 0
    seconds: float = 0.0
    stages: Counter[str] = field(default_factory=Counter)
    rows: list[dict[str, str]] = field(default_factory=list)
    skipped_reason: str | None = None
    producer_runs: int = 0
    published: int = 0  # tasks the producer runs published, together
    agent_runs: int = 0  # completed agent runs (moved + held outcome lines)
    duplicates_skipped: int = 0

    @property
    def agent_runs_per_task(self) -> float:
        return self.agent_runs / self.tasks if self.tasks else 0.0

    @property
    def moved(self) -> int:
        return sum(self.moved_by_pathway.values())

    @property
    def ok(self) -> bool:
        return self.skipped_reason is None and self.moved + self.held == self.tasks and not self.failed

    @property
    def tasks_per_s(self) -> float:
        return self.moved / self.seconds if self.seconds else 0.0


_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
td, th { padding: .25rem .6rem; border-bottom: 1px solid #ddd; }
th { text-align: left; background: #f4f4f4; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.bar { display: inline-block; height: .8rem; background: #3b7dd8; vertical-align: middle; }
.ok { color: #1a7f37; } .bad { color: #c62828; } .muted { color: #777; }
"""


def _cell(value: object, *, numeric: bool = False) -> str:
    css = ' class="n"' if numeric else ""
    return f"<td{css}>{html.escape(str(value))}</td>"


def _summary(results: Sequence[PathResult]) -> str:
    pathways = sorted({p for r in results for p in r.moved_by_pathway})
    head = "".join(f"<th>moved: {html.escape(p)}</th>" for p in pathways)
    rows = []
    for r in results:
        if r.skipped_reason is not None:
            rows.append(f"<tr>{_cell(r.name)}<td colspan='{len(pathways) + 7}' class='muted'>skipped: "
                        f"{html.escape(r.skipped_reason)}</td></tr>")  # fmt: skip
            continue
        status = '<td class="ok">ok</td>' if r.ok else '<td class="bad">incomplete</td>'
        cells = "".join(_cell(r.moved_by_pathway.get(p, 0), numeric=True) for p in pathways)
        rows.append(
            f"<tr>{_cell(r.name)}{cells}{_cell(r.held, numeric=True)}{_cell(r.failed, numeric=True)}"
            f"{_cell(r.dead_lettered, numeric=True)}{_cell(r.encord_requests, numeric=True)}"
            f"{_cell(f'{r.seconds:.1f} s', numeric=True)}{_cell(f'{r.tasks_per_s:.1f}', numeric=True)}{status}</tr>"
        )
    return (
        f"<table><tr><th>path</th>{head}<th>held</th><th>failed</th><th>in DLQ</th><th>Encord requests</th>"
        f"<th>time</th><th>tasks/s</th><th></th></tr>{''.join(rows)}</table>"
    )


def _stages(result: PathResult) -> str:
    widest = max(result.stages.values(), default=1)
    rows = "".join(
        f"<tr>{_cell(stage)}{_cell(count, numeric=True)}"
        f"<td><span class='bar' style='width:{int(240 * count / widest)}px'></span></td></tr>"
        for stage, count in sorted(result.stages.items())
    )
    return f"<table><tr><th>stage</th><th>tasks</th><th></th></tr>{rows}</table>"


def _tasks(result: PathResult) -> str:
    rows = "".join(
        f"<tr>{_cell(row['title'])}{_cell(row['type'])}{_cell(row['answer'])}{_cell(row['stage'])}</tr>"
        for row in result.rows
    )
    return f"<table><tr><th>data unit</th><th>type</th><th>brightness label</th><th>stage now</th></tr>{rows}</table>"


def write_report(path: Path, *, results: Sequence[PathResult], machine: str, total_s: float) -> Path:
    """Write the report to `path` and return it."""
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    sections = []
    for result in results:
        if result.skipped_reason is not None:
            continue
        title = PATH_TITLES.get(result.name, result.name)
        sections.append(f"<h2>{html.escape(title)}</h2>{_stages(result)}<details><summary>every task"
                        f"</summary>{_tasks(result)}</details>")  # fmt: skip
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>runner-core local demo</title>"
        f"<style>{_STYLE}</style></head><body><h1>runner-core local demo</h1>"
        f"<p class='muted'>{html.escape(generated)} on {html.escape(machine)}; whole run {total_s:.1f} s. "
        "The example agent (examples/demo/agent.py) labels each data unit bright or dark from its first frame "
        "and routes it: bright to <code>annotate</code>, dark to <code>skip</code>.</p>"
        f"{_summary(results)}{''.join(sections)}</body></html>\n"
    )
    path.write_text(page, encoding="utf-8")
    return path
