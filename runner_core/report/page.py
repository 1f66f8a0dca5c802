"""The report as one self-contained HTML page: no scripts, no external assets, thumbnails inlined as data URIs.

Layout: a summary row per section, then every failed task (across sections), then each section's tasks as cards
(failures first), each card showing the frame with its object labels drawn over it and the task's route.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from runner_core.report.model import NOT_RUN, Section, Shape, TaskRecord

OUTCOME_COLUMNS = ("moved", "held", "skipped", "failed", NOT_RUN)

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.4rem; margin: 0 0 .3rem; } h2 { font-size: 1.1rem; margin: 2rem 0 .5rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
td, th { padding: .25rem .6rem; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #1a7f37; } .bad { color: #c62828; } .muted { color: #777; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: .8rem; }
.task { border: 1px solid #ddd; border-radius: 6px; padding: .5rem; background: #fff; }
.task.failed { border: 2px solid #c62828; background: #fff5f5; }
.task h3 { font-size: .95rem; margin: .3rem 0; overflow-wrap: anywhere; }
.task table { margin: 0; font-size: .85rem; width: 100%; } .task td, .task th { padding: .1rem .3rem; }
.task th { background: none; color: #555; font-weight: normal; width: 6.5rem; }
.thumb { position: relative; width: 100%; background: #eee; line-height: 0; }
.thumb img { width: 100%; height: auto; display: block; }
.thumb svg { position: absolute; inset: 0; width: 100%; height: 100%; }
.nothumb { padding: 2rem .5rem; text-align: center; color: #777; line-height: 1.2; }
.error { color: #c62828; overflow-wrap: anywhere; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _points(shape: Shape) -> str:
    return " ".join(f"{x:.4f},{y:.4f}" for x, y in shape.points)


def _svg_shape(shape: Shape) -> str:
    style = f'stroke="{_e(shape.color)}" stroke-width="3" vector-effect="non-scaling-stroke"'
    label = f"<title>{_e(shape.name)}</title>"
    if shape.kind == "box":
        (x0, y0), (x1, y1) = shape.points
        return (
            f'<rect class="shape" data-name="{_e(shape.name)}" x="{x0:.4f}" y="{y0:.4f}" width="{x1 - x0:.4f}" '
            f'height="{y1 - y0:.4f}" fill="none" {style}>{label}</rect>'
        )
    if shape.kind == "point":
        ((x, y),) = shape.points
        return f'<circle class="shape" data-name="{_e(shape.name)}" cx="{x:.4f}" cy="{y:.4f}" r="0.015" fill="{_e(shape.color)}">{label}</circle>'  # noqa: E501
    element = "polygon" if shape.kind == "polygon" else "polyline"
    return f'<{element} class="shape" data-name="{_e(shape.name)}" points="{_points(shape)}" fill="none" {style}>{label}</{element}>'  # noqa: E501


def _picture(record: TaskRecord) -> str:
    labels = record.labels
    if labels.thumbnail is None:
        return f'<div class="thumb"><div class="nothumb">{_e(labels.note or "no picture")}</div></div>'
    shapes = "".join(_svg_shape(shape) for shape in labels.shapes)
    overlay = f'<svg viewBox="0 0 1 1" preserveAspectRatio="none">{shapes}</svg>' if shapes else ""
    alt = f"{record.title}, frame {labels.frame}"
    return f'<div class="thumb"><img src="{labels.thumbnail}" alt="{_e(alt)}">{overlay}</div>'


def _row(name: str, value: object, *, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f"<tr><th>{_e(name)}</th><td{cls}>{_e(value)}</td></tr>"


def _card(record: TaskRecord, section: Section) -> str:
    labels = [*record.labels.classifications, *(f"{s.name} ({s.kind})" for s in record.labels.shapes)]
    rows = [
        _row("outcome", record.outcome, css="bad" if record.failed else "ok"),
        _row("pathway", record.pathway or "-"),
        _row("stage", f"{record.stage_before or '?'} → {record.stage_after or '?'}"),
        _row("priority", "-" if record.priority is None else f"{record.priority:g}"),
        _row("attempts", record.attempts),
        _row("duration", "-" if record.duration_s is None else f"{record.duration_s * 1000:.0f} ms"),
        _row("labels", "; ".join(labels) or "-"),
        _row("frame", record.labels.frame),
    ]
    if record.error:
        rows.append(_row("error", record.error, css="error"))
    state = "failed" if record.failed else "done"
    return (
        f'<article class="task {state}" data-outcome="{_e(record.outcome)}" data-title="{_e(record.title)}" '
        f'data-section="{_e(section.name)}">{_picture(record)}<h3>{_e(record.title)} '
        f'<span class="muted">({_e(record.data_type)})</span></h3><table>{"".join(rows)}</table></article>'
    )


def _cell(value: object, *, numeric: bool = False) -> str:
    return f"<td{' class=n' if numeric else ''}>{_e(value)}</td>"


def _summary(sections: Sequence[Section]) -> str:
    pathways = sorted({p for section in sections for p in section.pathways})
    head = "".join(f"<th>{_e(c)}</th>" for c in ("run", "tasks", *OUTCOME_COLUMNS))
    head += "".join(f"<th>→ {_e(p)}</th>" for p in pathways)
    head += "<th>in DLQ</th><th>Encord requests</th><th>time</th><th></th>"
    rows = []
    for s in sections:
        if s.skipped_reason is not None:
            span = len(OUTCOME_COLUMNS) + len(pathways) + 5
            rows.append(
                f"<tr>{_cell(s.title)}<td colspan='{span}' class='muted'>skipped: {_e(s.skipped_reason)}</td></tr>"
            )
            continue
        outcomes, moved = s.outcomes, s.pathways
        cells = [_cell(len(s.records), numeric=True)]
        cells += [_cell(outcomes.get(c, 0), numeric=True) for c in OUTCOME_COLUMNS]
        cells += [_cell(moved.get(p, 0), numeric=True) for p in pathways]
        cells += [_cell("-" if v is None else v, numeric=True) for v in (s.dead_lettered, s.encord_requests)]
        cells.append(_cell("-" if s.seconds is None else f"{s.seconds:.1f} s", numeric=True))
        cells.append('<td class="ok">ok</td>' if s.ok else '<td class="bad">failures</td>')
        rows.append(f'<tr data-section="{_e(s.name)}">{_cell(s.title)}{"".join(cells)}</tr>')
    return f'<table id="summary"><tr>{head}</tr>{"".join(rows)}</table>'


def _stages(section: Section) -> str:
    before = {r.stage_before for r in section.records}
    after = {r.stage_after for r in section.records}
    names = sorted(str(s) for s in before | after if s)
    rows = "".join(
        f"<tr>{_cell(name)}"
        f"{_cell(sum(1 for r in section.records if r.stage_before == name), numeric=True)}"
        f"{_cell(sum(1 for r in section.records if r.stage_after == name), numeric=True)}</tr>"
        for name in names
    )
    return f"<table class='stages'><tr><th>stage</th><th>tasks before</th><th>after</th></tr>{rows}</table>"


def render(sections: Sequence[Section], *, title: str, note: str = "") -> str:
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    ran = [s for s in sections if s.skipped_reason is None]
    failures = [(r, s) for s in ran for r in s.ordered() if r.failed]
    parts = [f"<h1>{_e(title)}</h1><p class='muted'>{_e(generated)}. {_e(note)}</p>", _summary(sections)]
    if failures:
        cards = "".join(_card(r, s) for r, s in failures)
        parts.append(f'<section id="failures"><h2 class="bad">Failed tasks ({len(failures)})</h2>'
                     f'<div class="cards">{cards}</div></section>')  # fmt: skip
    for s in ran:
        cards = "".join(_card(r, s) for r in s.ordered())
        parts.append(f'<section class="run" id="run-{_e(s.name)}"><h2>{_e(s.title)}</h2>{_stages(s)}'
                     f'<div class="cards">{cards}</div></section>')  # fmt: skip
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>\n"
    )


def write_report(path: Path, sections: Sequence[Section], *, title: str, note: str = "") -> Path:
    """Write the page to `path` (its folder is created) and return `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(sections, title=title, note=note), encoding="utf-8")
    return path
