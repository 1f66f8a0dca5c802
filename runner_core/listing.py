"""A stage's task listing that can stop part-way and resume there on the next run (the producer's cursor).

The SDK's `AgentStage.get_tasks` pages lazily but keeps the page token to itself. The query object it pages with
does carry it, so this module drives the same paged request with a query object it holds (`encord` is pinned
exactly, and the emulator's contract tests guard this wire format). A cursor is the token of the page being read
plus the uuids of that page already handled: resuming skips those, so a task that left the stage in between
cannot make the producer skip one that did not. When the SDK lacks these internals, or the stored token is
refused, the listing starts from the beginning (already queued tasks then cost one batched ledger read per page).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from encord.workflow.stages.agent import AgentStage, AgentTask, AgentTaskStatus

logger = logging.getLogger("runner_core.backlog")


@dataclass(frozen=True, slots=True)
class ListingCursor:
    page_token: str | None
    done: tuple[str, ...] = ()  # task uuids of that page already handled

    def dumps(self) -> str:
        return json.dumps({"page_token": self.page_token, "done": list(self.done)}, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | None) -> ListingCursor | None:
        if not text:
            return None
        try:
            raw = json.loads(text)
            return cls(page_token=raw.get("page_token"), done=tuple(str(u) for u in raw.get("done", [])))
        except (ValueError, AttributeError, TypeError):
            return None


@dataclass(slots=True)
class ResumableListing:
    """Iterate a stage's tasks from `cursor` (or the start); `position_after(task)` is where to resume after it."""

    stage: AgentStage
    statuses: Sequence[AgentTaskStatus] | None
    cursor: ListingCursor | None = None
    # Only the page being read is remembered (memory stays flat in the backlog size): its token and the uuids of
    # its tasks handed out so far, in order.
    _token: str | None = None
    _seen: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[AgentTask]:
        paged = self._paged()
        if paged is None:  # the SDK's internals moved: list from the start, without a cursor
            self.cursor = None
            yield from self.stage.get_tasks(status=list(self.statuses) if self.statuses else None)
            return
        params, fetch = paged
        resumed = self.cursor
        self._token, self._seen = None, []
        if resumed is not None:
            params.page_token = resumed.page_token
            self._token, self._seen = resumed.page_token, list(resumed.done)
        skip = set(resumed.done) if resumed is not None else set()
        tasks = iter(fetch())
        try:
            first = next(tasks, None)
        except Exception:
            if resumed is None:
                raise
            logger.warning("the stored listing cursor was refused; listing from the start")
            self.cursor = None
            yield from self  # now from the start
            return
        pending = [] if first is None else [first]
        for task in _chain(pending, tasks):
            token = params.page_token
            uuid = str(task.uuid)
            if resumed is not None and token == resumed.page_token and uuid in skip:
                continue
            if token != self._token:
                self._token, self._seen = token, []
            self._seen.append(uuid)
            yield task

    def position_after(self, task: AgentTask) -> ListingCursor | None:
        """Where to resume after `task`, a task of the page being read (None for an older one)."""
        uuid = str(task.uuid)
        if uuid not in self._seen:
            return None
        return ListingCursor(page_token=self._token, done=tuple(self._seen[: self._seen.index(uuid) + 1]))

    def _paged(self) -> tuple[Any, Any] | None:
        try:
            from encord.workflow.stages.agent import AgentTask, _AgentTasksQueryParams

            client = self.stage._workflow_client
            params = _AgentTasksQueryParams(statuses=list(self.statuses) if self.statuses else None)
        except (ImportError, AttributeError, TypeError):
            return None
        if not hasattr(params, "page_token") or not callable(getattr(client, "get_tasks", None)):
            return None

        def fetch() -> Iterator[AgentTask]:
            for task in client.get_tasks(self.stage.uuid, params, type_=AgentTask):
                # What AgentStage.get_tasks attaches, so the task can act (proceed, move) like the SDK's own.
                task._stage_uuid = self.stage.uuid
                task._workflow_client = client
                yield task

        return params, fetch


def _chain(first: list[AgentTask], rest: Iterator[AgentTask]) -> Iterator[AgentTask]:
    yield from first
    yield from rest
