"""The bounded producer: stream a stage's waiting tasks page by page and publish as it goes, within a time budget.

Per page: one batched ledger lookup, a conditional "queued" mark for the tasks with nothing live (so two runs never
both publish a task), then publish those. Memory stays flat in the backlog size (one page at a time); a run stops
cleanly before its deadline and reports how far it got; the next run skips what is already queued with one read per
page, so it continues rather than restarts. One run at a time per project and stage (a lock with a lease).

No cloud SDK here: `publish` is the caller's (functions.publishers), the ledger is a `runner_core.ledger.Ledger`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from runner_core.ledger import Episode, Seen
from runner_core.listing import ListingCursor, ResumableListing
from runner_core.producer import OutboundMessage, messages_for_tasks
from runner_core.protocols import TaskSource

if TYPE_CHECKING:
    from encord.workflow.stages.agent import AgentStage, AgentTask, AgentTaskStatus

    from runner_core.ledger import Ledger, LedgerRecord

logger = logging.getLogger("runner_core.backlog")

PAGE_SIZE = 100  # tasks per lookup / mark / publish round (the SDK lists 100 per request)
# Stop when less than this many pages' worth of time (as measured so far) is left, and never closer than the floor.
SAFETY_PAGES = 2.0
SAFETY_FLOOR_S = 1.0

# Publish a page's messages; returns the indexes (into the argument) of messages that were NOT sent.
Publish = Callable[[Sequence[OutboundMessage]], Collection[int]]


@dataclass(slots=True)
class BacklogReport:
    """What one producer run did (the counts of the producer's log line)."""

    listed: int = 0
    published: int = 0  # tasks published in this run
    messages: int = 0
    in_flight: int = 0  # already queued or running
    done_recently: int = 0  # moved, or held within the re-check interval
    failed_recently: int = 0  # failed permanently within the window
    lost_race: int = 0  # another writer marked or claimed it between the lookup and the mark
    publish_failed: int = 0
    stopped_at_deadline: bool = False
    stages: int = 0
    stages_locked: int = 0  # stages skipped: another producer run holds their lock
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        fields = asdict(self)
        fields["errors"] = fields["errors"][:20]
        return fields


def _pages(tasks: Iterable[AgentTask], size: int) -> Iterator[list[AgentTask]]:
    page: list[AgentTask] = []
    for task in tasks:
        page.append(task)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page


@dataclass(slots=True)
class _Budget:
    deadline: float | None
    slowest_page_s: float = 0.0

    def exhausted(self) -> bool:
        if self.deadline is None:
            return False
        reserve = max(SAFETY_FLOOR_S, SAFETY_PAGES * self.slowest_page_s)
        return time.monotonic() > self.deadline - reserve

    def record(self, started: float) -> None:
        self.slowest_page_s = max(self.slowest_page_s, time.monotonic() - started)


def drain_backlog(
    source: TaskSource,
    *,
    publish: Publish,
    ledger: Ledger | None,
    deadline: float | None = None,
    statuses: Sequence[AgentTaskStatus] | None = None,
    stage_uuids: Collection[uuid.UUID] | None = None,
    tasks_per_message: int = 1,
    max_bytes: int | None = None,
    page_size: int = PAGE_SIZE,
) -> BacklogReport:
    """List, look up, mark and publish the waiting tasks of the runner's stages, page by page, until done or until
    `deadline` (a `time.monotonic()` value) is near. Never raises for a page that failed to publish (its marks are
    undone and it counts in `publish_failed`)."""
    project_hash = str(uuid.UUID(str(source.project_hash)))
    report = BacklogReport()
    budget = _Budget(deadline)
    run_id = f"producer-{uuid.uuid4().hex[:12]}"
    for stage in source.get_agent_stages():
        if stage_uuids is not None and stage.uuid not in stage_uuids:
            continue
        if budget.exhausted():
            report.stopped_at_deadline = True
            break
        report.stages += 1
        lock = None
        if ledger is not None:
            lease = ledger.settings.default_lease_s if deadline is None else deadline - time.monotonic()
            lock = ledger.acquire_lock(
                project_hash, stage.uuid, holder=run_id, lease_s=lease + ledger.settings.lease_margin_s
            )
            if lock is None:
                report.stages_locked += 1
                continue
        try:
            _drain_stage(
                stage,
                project_hash=project_hash,
                publish=publish,
                ledger=ledger,
                budget=budget,
                report=report,
                run_id=run_id,
                statuses=statuses,
                tasks_per_message=tasks_per_message,
                max_bytes=max_bytes,
                page_size=page_size,
            )
        finally:
            if ledger is not None and lock is not None:
                ledger.release_lock(lock)
        if report.stopped_at_deadline:
            break
    return report


def _drain_stage(
    stage: AgentStage,
    *,
    project_hash: str,
    publish: Publish,
    ledger: Ledger | None,
    budget: _Budget,
    report: BacklogReport,
    run_id: str,
    statuses: Sequence[AgentTaskStatus] | None,
    tasks_per_message: int,
    max_bytes: int | None,
    page_size: int,
) -> None:
    cursor = ListingCursor.loads(ledger.read_cursor(project_hash, stage.uuid)) if ledger is not None else None
    listing = ResumableListing(stage, statuses, cursor)
    started = time.monotonic()
    for page in _pages(listing, page_size):
        report.listed += len(page)
        fresh, marks = _select(
            page, stage_uuid=stage.uuid, project_hash=project_hash, ledger=ledger, report=report, run_id=run_id
        )
        if fresh:
            messages = list(
                messages_for_tasks(
                    project_hash=project_hash,
                    stage_uuid=stage.uuid,
                    tasks=fresh,
                    tasks_per_message=tasks_per_message,
                    max_bytes=max_bytes,
                )
            )
            unsent = set(publish(messages))
            undo: list[LedgerRecord] = []
            offset = 0  # messages_for_tasks packs the tasks in order: message i holds the next task_count tasks
            for index, message in enumerate(messages):
                if index in unsent:
                    report.publish_failed += message.task_count
                    undo.extend(marks[offset : offset + message.task_count])
                else:
                    report.messages += 1
                    report.published += message.task_count
                offset += message.task_count
            if undo and ledger is not None:
                ledger.unmark_queued(undo)  # so the next run publishes them
        budget.record(started)
        started = time.monotonic()
        if budget.exhausted():
            report.stopped_at_deadline = True
            if ledger is not None:  # the next run continues after this page instead of listing from the start
                resume = listing.position_after(page[-1])
                ledger.save_cursor(project_hash, stage.uuid, resume.dumps() if resume is not None else None)
            return
    if ledger is not None and cursor is not None:
        ledger.save_cursor(project_hash, stage.uuid, None)  # a full pass: the next run starts from the beginning


def _select(
    page: list[AgentTask],
    *,
    stage_uuid: uuid.UUID,
    project_hash: str,
    ledger: Ledger | None,
    report: BacklogReport,
    run_id: str,
) -> tuple[list[AgentTask], list[LedgerRecord]]:
    """The page's tasks to publish now (and their queued marks): nothing live in the ledger, and marked by us."""
    if ledger is None:
        return page, []
    episodes = [
        Episode.of(project_hash=project_hash, stage_uuid=stage_uuid, task_uuid=task.uuid, updated_at=task.updated_at)
        for task in page
    ]
    seen = ledger.lookup(episodes)
    candidates: list[tuple[AgentTask, Episode]] = []
    for task, episode, state in zip(page, episodes, seen, strict=True):
        if state is Seen.NEW:
            candidates.append((task, episode))
        elif state is Seen.IN_FLIGHT:
            report.in_flight += 1
        elif state is Seen.DONE_RECENTLY:
            report.done_recently += 1
        else:
            report.failed_recently += 1
    marks = ledger.mark_queued([episode for _, episode in candidates], holder=run_id)
    fresh: list[AgentTask] = []
    kept: list[LedgerRecord] = []
    for (task, _), mark in zip(candidates, marks, strict=True):
        if mark is None:
            report.lost_race += 1
        else:
            fresh.append(task)
            kept.append(mark)
    return fresh, kept


def log_report(report: BacklogReport, *, destination: str) -> None:
    """The producer's one log line: listed, published, already queued or running, done or held recently, failed
    recently, stopped at the deadline."""
    logger.info(
        "producer: listed %d, published %d, already queued or running %d, done or held recently %d, failed recently "
        "%d, stopped at deadline %s",
        report.listed,
        report.published,
        report.in_flight,
        report.done_recently,
        report.failed_recently,
        "yes" if report.stopped_at_deadline else "no",
        extra={"event": "dispatch", "destination": destination, **report.as_dict()},
    )
