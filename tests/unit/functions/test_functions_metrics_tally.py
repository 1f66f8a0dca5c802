"""The outcome kinds the metrics count, and the tallies per (project, stage) of one batch."""

from __future__ import annotations

import uuid

import pytest

from functions._metrics import UNKNOWN, OutcomeKind, outcome_kind, stage_of, tally
from runner_core.outcomes import MessageResult, Outcome, TaskOutcome
from runner_core.runners.base import DUPLICATE_IN_BATCH, IN_PROGRESS

STAGE_A, STAGE_B = uuid.uuid4(), uuid.uuid4()


def _task(outcome: Outcome, *, stage: uuid.UUID = STAGE_A, **fields: object) -> TaskOutcome:
    return TaskOutcome(
        task_uuid=uuid.uuid4(),
        data_hash=uuid.uuid4(),
        project_hash="p1",
        stage_uuid=stage,
        outcome=outcome,
        **fields,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("task", "kind"),
    [
        (_task(Outcome.MOVED, pathway_name="annotate"), OutcomeKind.MOVED),
        (_task(Outcome.HELD), OutcomeKind.HELD),
        (_task(Outcome.SKIPPED, error=IN_PROGRESS), OutcomeKind.SKIPPED_DUPLICATE),
        (_task(Outcome.SKIPPED, error=DUPLICATE_IN_BATCH), OutcomeKind.SKIPPED_DUPLICATE),
        (_task(Outcome.SKIPPED, error="task is no longer at this stage"), OutcomeKind.SKIPPED_NOT_AT_STAGE),
        (_task(Outcome.FAILED, retryable=True, error="boom"), OutcomeKind.FAILED_RETRYABLE),
        (_task(Outcome.FAILED, retryable=False, error="bad pathway"), OutcomeKind.FAILED_PERMANENT),
    ],
)
def test_outcome_kind(task: TaskOutcome, kind: OutcomeKind) -> None:
    assert outcome_kind(task) is kind


def test_tally_per_stage_with_pathways_durations_and_the_batch_requests() -> None:
    results = [
        MessageResult("m1", (_task(Outcome.MOVED, pathway_name="annotate", duration_s=0.25, encord_requests=4),)),
        MessageResult("m2", (_task(Outcome.MOVED, pathway_name="skip", encord_requests=4),)),
        MessageResult("m3", (_task(Outcome.SKIPPED, error=DUPLICATE_IN_BATCH, encord_requests=4),)),
        MessageResult("m4", (_task(Outcome.FAILED, stage=STAGE_B, retryable=True, encord_requests=4),)),
        MessageResult("m5", (), error="not JSON"),
    ]
    first, second, rejected = tally(results)
    assert (first.project, first.stage) == ("p1", str(STAGE_A))
    assert first.kinds == {OutcomeKind.MOVED: 2, OutcomeKind.SKIPPED_DUPLICATE: 1}
    assert first.moved_by_pathway == {"annotate": 1, "skip": 1}
    assert first.durations_ms == [250.0, 0.0]  # the skipped task ran no agent
    assert first.encord_requests == 4  # shared by the batch, not summed per task
    assert second.kinds == {OutcomeKind.FAILED_RETRYABLE: 1}
    assert (rejected.project, rejected.stage, rejected.rejected) == (UNKNOWN, UNKNOWN, 1)
    assert stage_of(results[4]) == (UNKNOWN, UNKNOWN)
    assert stage_of(results[3]) == ("p1", str(STAGE_B))
