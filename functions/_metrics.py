"""What the metrics count, for both clouds: each task outcome's kind, and the tallies per (project, stage).

AWS emits these tallies as CloudWatch embedded-metric-format lines (`functions._emf`); GCP derives the same numbers
from the structured log lines with log-based metrics defined in Terraform (terraform/modules/gcp-pubsub-agent/
metrics.tf), which read the `kind` field written from `outcome_kind` below. One classification serves both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from runner_core.outcomes import MessageResult, Outcome, TaskOutcome
from runner_core.runners.base import DUPLICATE_IN_BATCH, IN_PROGRESS

UNKNOWN = "unknown"  # the project / stage of a message that could not be decoded
# Skip notes that mean "another delivery of this task is being (or was just) handled": a duplicate, not a task
# that left the stage.
_DUPLICATE_NOTES = frozenset({IN_PROGRESS, DUPLICATE_IN_BATCH})


class OutcomeKind(StrEnum):
    MOVED = "moved"
    HELD = "held"
    SKIPPED_DUPLICATE = "skipped_duplicate"
    SKIPPED_NOT_AT_STAGE = "skipped_not_at_stage"
    FAILED_RETRYABLE = "failed_retryable"
    FAILED_PERMANENT = "failed_permanent"


# The CloudWatch metric name of each kind (GCP: one log-based metric with a `kind` label instead).
METRIC_OF_KIND = {
    OutcomeKind.MOVED: "TasksMoved",
    OutcomeKind.HELD: "TasksHeld",
    OutcomeKind.SKIPPED_DUPLICATE: "TasksSkippedDuplicate",
    OutcomeKind.SKIPPED_NOT_AT_STAGE: "TasksSkippedNotAtStage",
    OutcomeKind.FAILED_RETRYABLE: "TasksFailedRetryable",
    OutcomeKind.FAILED_PERMANENT: "TasksFailedPermanent",
}
MOVED_BY_PATHWAY = "TasksMovedByPathway"
MESSAGES_REJECTED = "MessagesRejected"  # undecodable: no task to count
MESSAGES_DEAD_LETTERED = "MessagesDeadLettered"
AGENT_DURATION = "AgentDuration"
ENCORD_REQUESTS = "EncordRequests"
COLD_START = "ColdStart"


def outcome_kind(task: TaskOutcome) -> OutcomeKind:
    if task.outcome is Outcome.MOVED:
        return OutcomeKind.MOVED
    if task.outcome is Outcome.HELD:
        return OutcomeKind.HELD
    if task.outcome is Outcome.SKIPPED:
        duplicate = task.error in _DUPLICATE_NOTES or "duplicate" in (task.error or "").lower()
        return OutcomeKind.SKIPPED_DUPLICATE if duplicate else OutcomeKind.SKIPPED_NOT_AT_STAGE
    return OutcomeKind.FAILED_RETRYABLE if task.retryable else OutcomeKind.FAILED_PERMANENT


def stage_of(result: MessageResult) -> tuple[str, str]:
    """(project, stage) of a message: its first task's, or `unknown` when nothing in it could be decoded."""
    for task in result.tasks:
        return task.project_hash or UNKNOWN, str(task.stage_uuid) if task.stage_uuid else UNKNOWN
    return UNKNOWN, UNKNOWN


@dataclass(slots=True)
class StageTally:
    """The numbers of one (project, stage) in one runner call."""

    project: str
    stage: str
    kinds: Counter[OutcomeKind] = field(default_factory=Counter)
    moved_by_pathway: Counter[str] = field(default_factory=Counter)
    rejected: int = 0
    durations_ms: list[float] = field(default_factory=list)
    # The batch's Encord requests: every task of a batch carries the same count, so the largest is the batch's.
    encord_requests: int = 0


def tally(results: Iterable[MessageResult]) -> list[StageTally]:
    """One tally per (project, stage) over the results of one runner call (= one batch), in first-seen order."""
    tallies: dict[tuple[str, str], StageTally] = {}

    def of(key: tuple[str, str]) -> StageTally:
        return tallies.setdefault(key, StageTally(project=key[0], stage=key[1]))

    for result in results:
        if not result.tasks:
            of(stage_of(result)).rejected += 1
        for task in result.tasks:
            entry = of((task.project_hash or UNKNOWN, str(task.stage_uuid) if task.stage_uuid else UNKNOWN))
            kind = outcome_kind(task)
            entry.kinds[kind] += 1
            if kind is OutcomeKind.MOVED:
                entry.moved_by_pathway[task.pathway_name or str(task.pathway_uuid or UNKNOWN)] += 1
            if kind in (OutcomeKind.MOVED, OutcomeKind.HELD) or task.outcome is Outcome.FAILED:
                entry.durations_ms.append(round(task.duration_s * 1000, 1))  # skipped tasks ran no agent
            entry.encord_requests = max(entry.encord_requests, task.encord_requests or 0)
    return list(tallies.values())
