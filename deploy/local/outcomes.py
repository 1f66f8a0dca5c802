"""What the functions did, read back from their structured logs: one JSON line per task outcome.

The consumers log `{"event": "task_outcome", "task_uuid": ..., "outcome": ..., "pathway": ...}` (and
`"event": "message_rejected"` for bodies with nothing decodable). Reading these lines is how the local stack reports
per-pathway counts and how the e2e tests check that each task moved exactly once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TASK_OUTCOME = "task_outcome"
MESSAGE_REJECTED = "message_rejected"


@dataclass(frozen=True, slots=True)
class OutcomeLine:
    task: str | None
    data_hash: str | None
    outcome: str
    pathway: str | None
    error: str | None
    message_id: str | None
    attempt: int | None
    source: str  # the log file's component name
    stage: str | None = None  # uuid of the agent stage the task was processed at
    duration_ms: float | None = None
    time: str | None = None  # as logged: Powertools' `timestamp` (AWS) or our `time` (GCP)


def _json_lines(path: Path) -> Iterable[dict[str, Any]]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            start = line.find("{")
            if start < 0:
                continue
            try:
                parsed = json.loads(line[start:])
            except ValueError:
                continue
            if isinstance(parsed, dict):
                yield parsed


def read_outcomes(log_dir: Path, *, prefix: str = "") -> list[OutcomeLine]:
    """Every task-outcome line in the logs of `log_dir` whose component name starts with `prefix`."""
    lines: list[OutcomeLine] = []
    for path in sorted(log_dir.glob(f"{prefix}*.log")):
        for entry in _json_lines(path):
            if entry.get("event") != TASK_OUTCOME:
                continue
            attempt = entry.get("attempt")
            lines.append(
                OutcomeLine(
                    task=entry.get("task_uuid"),
                    data_hash=entry.get("data_hash"),
                    outcome=str(entry.get("outcome")),
                    pathway=entry.get("pathway"),
                    error=entry.get("error"),
                    message_id=entry.get("message_id"),
                    attempt=int(attempt) if isinstance(attempt, int) else None,
                    source=path.stem,
                    stage=entry.get("stage_uuid"),
                    time=entry.get("timestamp") or entry.get("time"),
                    duration_ms=float(duration)
                    if isinstance(duration := entry.get("duration_ms"), int | float)
                    else None,
                )
            )
    return lines


def read_rejections(log_dir: Path, *, prefix: str = "") -> list[dict[str, Any]]:
    return [
        entry
        for path in sorted(log_dir.glob(f"{prefix}*.log"))
        for entry in _json_lines(path)
        if entry.get("event") == MESSAGE_REJECTED
    ]


@dataclass(frozen=True, slots=True)
class OutcomeSummary:
    moved_by_pathway: Counter[str]
    moves_per_task: Counter[str]
    held: int
    skipped: int
    failed_attempts: int
    rejected_messages: int

    @property
    def moved(self) -> int:
        return sum(self.moved_by_pathway.values())

    @property
    def agent_runs(self) -> int:
        """Agent runs that completed (each moved or held line is one run; a skipped duplicate ran nothing)."""
        return self.moved + self.held

    @property
    def moved_twice(self) -> list[str]:
        return sorted(task for task, count in self.moves_per_task.items() if count > 1)


def summarise(lines: Iterable[OutcomeLine], *, rejected_messages: int = 0) -> OutcomeSummary:
    moved_by_pathway: Counter[str] = Counter()
    moves_per_task: Counter[str] = Counter()
    held = skipped = failed = 0
    for line in lines:
        if line.outcome == "moved":
            moved_by_pathway[line.pathway or "?"] += 1
            moves_per_task[line.task or "?"] += 1
        elif line.outcome == "held":
            held += 1
        elif line.outcome == "skipped":
            skipped += 1
        elif line.outcome == "failed":
            failed += 1
    return OutcomeSummary(
        moved_by_pathway=moved_by_pathway,
        moves_per_task=moves_per_task,
        held=held,
        skipped=skipped,
        failed_attempts=failed,
        rejected_messages=rejected_messages,
    )
