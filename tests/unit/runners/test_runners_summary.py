"""StageSummary / RunSummary: counting per stage, folding passes, bounded failure memory, the rendered lines."""

from __future__ import annotations

from uuid import uuid4

from runner_core.outcomes import Outcome, TaskOutcome
from runner_core.runners.summary import MAX_FAILURES_KEPT, RunSummary, StageSummary


def _outcome(kind: Outcome, *, retryable: bool = False, error: str | None = None) -> TaskOutcome:
    return TaskOutcome(uuid4(), uuid4(), None, None, kind, retryable=retryable, error=error)


def test_a_stage_counts_outcomes_and_keeps_failures() -> None:
    stage = StageSummary(stage="pre-label")
    failed = _outcome(Outcome.FAILED, retryable=True, error="boom")
    stage.add([_outcome(Outcome.MOVED), _outcome(Outcome.MOVED), _outcome(Outcome.SKIPPED), failed])
    assert stage.total == 4
    assert stage.counts[Outcome.MOVED] == 2
    assert stage.failures == [failed]


def test_merge_folds_passes_into_one_row_per_stage_and_bounds_the_failures() -> None:
    total = RunSummary()
    for _ in range(3):
        one = StageSummary(stage="a", retries=1, duration_s=0.5)
        one.add([_outcome(Outcome.FAILED, error="x")] * (MAX_FAILURES_KEPT // 2 + 1) + [_outcome(Outcome.HELD)])
        total.merge(RunSummary(stages=[one, StageSummary(stage="b")]))
    assert [s.stage for s in total.stages] == ["a", "b"]
    assert total.count(Outcome.HELD) == 3
    assert total.count(Outcome.FAILED) == 3 * (MAX_FAILURES_KEPT // 2 + 1)
    assert len(total.stages[0].failures) == MAX_FAILURES_KEPT
    assert total.stages[0].retries == 3
    assert total.stages[0].duration_s == 1.5


def test_failure_lines_say_retryable_or_permanent() -> None:
    stage = StageSummary(stage="s")
    retry, permanent = _outcome(Outcome.FAILED, retryable=True, error="slow"), _outcome(Outcome.FAILED, error="bad")
    stage.add([retry, permanent])
    assert RunSummary(stages=[stage]).failure_lines() == [
        f"s: task {retry.task_uuid} failed (retryable): slow",
        f"s: task {permanent.task_uuid} failed (permanent): bad",
    ]


def test_the_table_has_a_column_per_outcome() -> None:
    stage = StageSummary(stage="s")
    stage.add([_outcome(Outcome.MOVED)])
    table = RunSummary(stages=[stage]).table()
    assert [c.header for c in table.columns] == ["stage", "moved", "held", "skipped", "failed", "retries", "time"]
    assert table.row_count == 1
