"""The local stack's run report: what each cloud path did to every task, from the functions' logs and the emulator.

Outcome lines (deploy.local.outcomes) give each task's outcome, pathway, attempts, duration and error; the emulator's
state gives its stage and priority now; the SDK gives the labels saved and the picture (runner_core.report).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from deploy.local.encord import EmulatorControl, TaskView, sdk_client
from deploy.local.outcomes import OutcomeLine, read_outcomes
from deploy.local.stack import EncordAccess
from runner_core.report import Section, TaskRecord, read_labels
from runner_core.report.model import NOT_RUN

PATH_TITLES = {"aws": "AWS: SQS -> Lambda", "gcp": "GCP: Pub/Sub -> Cloud Functions"}


def _final_line(lines: list[OutcomeLine]) -> OutcomeLine:
    """The line that says where the task ended: a move (nothing follows it but duplicate deliveries' skips), else
    the latest hold, else the latest line. `lines` are in time order."""
    for outcome in ("moved", "held"):
        done = [line for line in lines if line.outcome == outcome]
        if done:
            return done[-1]
    return lines[-1]


def path_section(
    *,
    name: str,
    encord: EncordAccess,
    project_hash: str,
    log_dir: Path,
    log_prefix: str,
    before: Mapping[str, str] | None = None,
    seconds: float | None = None,
    encord_requests: int | None = None,
    dead_lettered: int | None = None,
    thumbnails: bool = True,
) -> Section:
    """One section per cloud path: every task the path's consumer logged, and (with `before`, task uuid -> stage at
    the start) every task that waited at an agent stage, with NOT_RUN for those it never reached."""
    control = EmulatorControl(encord.url)
    stage_titles = {uuid: str(stage["title"]) for uuid, stage in control.stages(project_hash).items()}
    agent_stages = control.agent_stage_titles(project_hash)
    now = {task.task_uuid: task for task in control.tasks(project_hash)}
    by_task: dict[str, list[OutcomeLine]] = {}
    # Time order across the instances' log files (each file alone is in order, not their concatenation).
    for line in sorted(read_outcomes(log_dir, prefix=log_prefix), key=lambda line: line.time or ""):
        if line.task is not None:
            by_task.setdefault(line.task, []).append(line)
    started_at = dict(before or {})
    wanted = set(by_task) | {task for task, stage in started_at.items() if stage in agent_stages}
    records = [
        record
        for task in wanted
        if (record := _record(task, by_task.get(task, []), now.get(task), started_at, stage_titles)) is not None
    ]
    labels = read_labels(
        sdk_client(url=encord.url, key_file=encord.key_file),
        project_hash,
        (r.data_hash for r in records),
        thumbnails=thumbnails,
    )
    for record in records:
        record.labels = labels.get(record.data_hash, record.labels)
    return Section(
        name=name,
        title=PATH_TITLES.get(name, name),
        records=records,
        seconds=seconds,
        encord_requests=encord_requests,
        dead_lettered=dead_lettered,
    )


def _record(
    task_uuid: str,
    lines: list[OutcomeLine],
    now: TaskView | None,
    before: Mapping[str, str],
    stage_titles: Mapping[str, str],
) -> TaskRecord | None:
    if now is None:
        return None  # logged by a path over another project (or a planted message naming no real task)
    record = TaskRecord(
        task_uuid=task_uuid,
        data_hash=now.data_hash,
        title=now.data_title,
        data_type=now.data_type,
        outcome=NOT_RUN,
        stage_before=before.get(task_uuid),
        stage_after=now.stage,
        priority=now.priority,
    )
    if lines:
        final = _final_line(lines)
        record.outcome = final.outcome
        record.pathway = final.pathway if final.outcome == "moved" else None
        # A "skipped" line is a duplicate delivery finding the task already gone, not an attempt at it.
        record.attempts = sum(1 for line in lines if line.outcome != "skipped") or len(lines)
        record.duration_s = final.duration_ms / 1000 if final.duration_ms is not None else None
        record.error = final.error
        if record.stage_before is None and final.stage is not None:
            record.stage_before = stage_titles.get(final.stage, final.stage)
    return record
