"""The producer's trigger logic shared by both clouds: a schedule, or Encord's signed "work available" webhook."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from functions import webhook
from functions.errors import ConfigurationError, ProjectNotAllowedError, PublishError, WebhookError
from functions.ledgers import attach_ledger
from functions.settings import function_settings
from runner_core.backlog import drain_backlog, log_report
from runner_core.protocols import TaskSource

if TYPE_CHECKING:
    from encord.workflow.stages.agent import AgentTaskStatus

    from functions.publishers import Publisher
    from functions.settings import FunctionSettings
    from runner_core.producer import OutboundMessage

ALLOWLIST_ENV = "RUNNER_PROJECT_ALLOWLIST"

logger = logging.getLogger("functions.dispatch")


@dataclass(frozen=True, slots=True)
class DispatchSummary:
    destination: str
    messages: int
    tasks: int  # tasks published by this run
    failed: int
    stages: int
    listed: int = 0
    in_flight: int = 0  # already queued or running (the ledger said so): not published again
    done_recently: int = 0
    failed_recently: int = 0
    stopped_at_deadline: bool = False
    stages_locked: int = 0  # another producer run held the stage's lock

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    body: dict[str, Any]


def parse_statuses(values: Iterable[str]) -> list[AgentTaskStatus]:
    """Task statuses by name (`NEW`, `RELEASED`...), case-insensitive; a wrong name lists the valid ones."""
    from encord.workflow.stages.agent import AgentTaskStatus

    valid = [status.value for status in AgentTaskStatus if status is not AgentTaskStatus.UNKNOWN]
    parsed: list[AgentTaskStatus] = []
    for raw in values:
        for name in raw.split(","):
            if not name.strip():
                continue
            if name.strip().upper() not in valid:
                raise ConfigurationError(f"unknown task status {name.strip()!r}; choose from {', '.join(valid)}")
            parsed.append(AgentTaskStatus(name.strip().upper()))
    return parsed


def statuses_from_environment(settings: FunctionSettings) -> list[AgentTaskStatus]:
    """`RUNNER_DISPATCH_STATUSES` (empty: every status)."""
    return parse_statuses([settings.dispatch_statuses])


def allowed_projects(*, own_project: str) -> frozenset[str]:
    """`RUNNER_PROJECT_ALLOWLIST` (comma-separated project hashes); when unset, only the runner's own project."""
    raw = function_settings().project_allowlist
    if not raw.strip():
        return frozenset({str(UUID(own_project))})
    allowed: set[str] = set()
    for item in raw.split(","):
        if item.strip():
            try:
                allowed.add(str(UUID(item.strip())))
            except ValueError:
                raise ConfigurationError(
                    f"{ALLOWLIST_ENV} holds {item.strip()!r}, which is not a project hash"
                ) from None
    return frozenset(allowed)


def publish_waiting_tasks(
    runner: TaskSource,
    publisher: Publisher,
    *,
    statuses: list[AgentTaskStatus] | None = None,
    stage_uuids: Iterable[UUID] | None = None,
    deadline: float | None = None,
) -> DispatchSummary:
    """Stream the runner's waiting tasks and publish those the ledger has no live record of, until done or until
    `deadline` (`time.monotonic()`) is near. Raises `PublishError` when any message was not sent (after the rest
    were: their queued marks are undone, so the next run sends them)."""
    stage_filter = None if stage_uuids is None else frozenset(stage_uuids)
    errors: list[str] = []

    def publish(messages: Sequence[OutboundMessage]) -> tuple[int, ...]:
        sent = publisher.publish(messages)
        errors.extend(sent.errors)
        return sent.unsent

    report = drain_backlog(
        runner,
        publish=publish,
        ledger=attach_ledger(runner),
        deadline=deadline,
        statuses=statuses or None,
        stage_uuids=stage_filter,
        tasks_per_message=publisher.tasks_per_message,
        max_bytes=publisher.max_message_bytes,
    )
    log_report(report, destination=publisher.destination)
    summary = DispatchSummary(
        destination=publisher.destination,
        messages=report.messages,
        tasks=report.published,
        failed=report.publish_failed,
        stages=report.stages,
        listed=report.listed,
        in_flight=report.in_flight,
        done_recently=report.done_recently,
        failed_recently=report.failed_recently,
        stopped_at_deadline=report.stopped_at_deadline,
        stages_locked=report.stages_locked,
    )
    if report.publish_failed:
        logger.error("dispatch failures", extra={"event": "dispatch_failed", "errors": errors[:20]})
        raise PublishError(
            f"{report.publish_failed} task(s) were not published; the next run sends them", failed=report.publish_failed
        )
    return summary


def check_webhook(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secret: str | None,
    now: float | None = None,
) -> HttpAnswer | None:
    """None when Encord signed this request (fresh, and not seen before); else the answer to send. Needs nothing
    but the webhook secret, so a function checks it before it reads any other secret or imports user code."""
    if not secret or not secret.strip():
        logger.error("webhook secret not configured", extra={"event": "webhook_rejected", "status": 500})
        return HttpAnswer(500, {"error": "the webhook secret is not configured on this function"})
    checked_at = time.time() if now is None else now
    try:
        webhook.verify_signature(
            body,
            signature=webhook.header(headers, webhook.SIGNATURE_HEADER),
            timestamp=webhook.header(headers, webhook.TIMESTAMP_HEADER),
            secret=secret,
            now=checked_at,
        )
        signature = (webhook.header(headers, webhook.SIGNATURE_HEADER) or "").strip()
        webhook.replay_guard.check_and_remember(signature, now=checked_at, tolerance_s=webhook.DEFAULT_TOLERANCE_S)
    except WebhookError as exc:
        logger.warning(
            "webhook rejected", extra={"event": "webhook_rejected", "status": exc.status, "reason": str(exc)}
        )
        return HttpAnswer(exc.status, {"error": str(exc)})
    return None


def act_on_webhook(
    body: bytes, *, runner: TaskSource, publisher: Publisher, deadline: float | None = None
) -> HttpAnswer:
    """Act on a request `check_webhook` accepted: nothing is listed or published unless the project is allowed."""
    try:
        notification = webhook.parse_work_available(body)
        if notification is None:
            return HttpAnswer(200, {"ignored": "not an agent_stage_work_available_event"})
        project = str(notification.project_hash)
        if project not in allowed_projects(own_project=runner.project_hash):
            raise ProjectNotAllowedError(f"project {project} is not in {ALLOWLIST_ENV}; nothing was enqueued")
        if project != str(UUID(runner.project_hash)):
            raise ProjectNotAllowedError(
                f"project {project} is not the project of this function's runner ({runner.project_hash})"
            )
    except WebhookError as exc:
        logger.warning(
            "webhook rejected", extra={"event": "webhook_rejected", "status": exc.status, "reason": str(exc)}
        )
        return HttpAnswer(exc.status, {"error": str(exc)})
    implemented = {stage.uuid for stage in runner.get_agent_stages()}
    if notification.stage_uuid not in implemented:
        return HttpAnswer(200, {"ignored": f"stage {notification.stage_uuid} has no agent in this runner"})
    try:
        summary = publish_waiting_tasks(
            runner,
            publisher,
            statuses=statuses_from_environment(function_settings()),
            stage_uuids=[notification.stage_uuid],
            deadline=deadline,
        )
    except PublishError as exc:
        return HttpAnswer(502, {"error": str(exc)})
    return HttpAnswer(200, summary.as_dict())


def handle_webhook(
    body: bytes,
    headers: Mapping[str, str],
    *,
    runner: TaskSource,
    publisher: Publisher,
    secret: str | None,
    now: float | None = None,
    deadline: float | None = None,
) -> HttpAnswer:
    """Verify and act on one webhook request (`check_webhook`, then `act_on_webhook`)."""
    rejected = check_webhook(body, headers, secret=secret, now=now)
    if rejected is not None:
        return rejected
    return act_on_webhook(body, runner=runner, publisher=publisher, deadline=deadline)
