"""What a SequentialRunner pass did, per stage, and how it is shown (rich is imported only to render)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from uuid import UUID

from runner_core.outcomes import Outcome, TaskOutcome

if TYPE_CHECKING:
    from rich.table import Table

MAX_FAILURES_KEPT = 100


@dataclass(slots=True)
class StageSummary:
    stage: str
    counts: Counter[Outcome] = field(default_factory=Counter)
    retries: int = 0
    failures: list[TaskOutcome] = field(default_factory=list)
    duration_s: float = 0.0
    # Data titles of the failed tasks: a person finds "dark-03.png" in the app, not a task uuid.
    titles: dict[UUID, str] = field(default_factory=dict)

    def add(self, outcomes: list[TaskOutcome], *, titles: Mapping[UUID, str] | None = None) -> None:
        for outcome in outcomes:
            self.counts[outcome.outcome] += 1
            if outcome.outcome is Outcome.FAILED:
                self.failures.append(outcome)
                if titles and outcome.task_uuid is not None and outcome.task_uuid in titles:
                    self.titles[outcome.task_uuid] = titles[outcome.task_uuid]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(slots=True)
class RunSummary:
    stages: list[StageSummary] = field(default_factory=list)

    def merge(self, other: RunSummary) -> None:
        """Fold a pass into this summary, one row per stage (a polling runner's memory stays flat)."""
        by_stage = {stage.stage: stage for stage in self.stages}
        for stage in other.stages:
            mine = by_stage.get(stage.stage)
            if mine is None:
                mine = StageSummary(stage=stage.stage)
                self.stages.append(mine)
                by_stage[stage.stage] = mine
            mine.counts.update(stage.counts)
            mine.retries += stage.retries
            mine.duration_s += stage.duration_s
            mine.failures = (mine.failures + stage.failures)[-MAX_FAILURES_KEPT:]
            kept = {failure.task_uuid for failure in mine.failures}
            mine.titles = {uuid: title for uuid, title in {**mine.titles, **stage.titles}.items() if uuid in kept}

    def count(self, outcome: Outcome) -> int:
        return sum(stage.counts[outcome] for stage in self.stages)

    def table(self) -> Table:
        from rich.table import Table

        table = Table(title="Agent run summary", title_justify="left")
        table.add_column("stage")
        for outcome in Outcome:
            table.add_column(outcome.value, justify="right")
        table.add_column("retries", justify="right")
        table.add_column("time", justify="right")
        for stage in self.stages:
            table.add_row(
                stage.stage,
                *(str(stage.counts[outcome]) for outcome in Outcome),
                str(stage.retries),
                f"{stage.duration_s:.1f} s",
            )
        return table

    def failure_lines(self, limit: int = 20) -> list[str]:
        lines = []
        for stage in self.stages:
            for failure in stage.failures[:limit]:
                kind = "retryable" if failure.retryable else "permanent"
                title = stage.titles.get(failure.task_uuid) if failure.task_uuid is not None else None
                name = f"{title!r} (task {failure.task_uuid})" if title else f"task {failure.task_uuid}"
                lines.append(f"{stage.stage}: {name} failed ({kind}): {failure.error}")
        return lines
