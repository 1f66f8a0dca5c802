"""`SequentialRunner` (alias `Runner`): drain agent stages from one process, as a CLI or from code.

Same pipeline as the QueueRunner; on top of it, retries with exponential backoff and jitter (each retry re-fetches
the task and re-resolves its dependencies), rich progress bars, a summary table, and `refresh_every` polling that
survives transient Encord errors. rich and typer are imported only when used, to keep imports fast.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from runner_core.errors import ConfigurationError, RunnerCoreError
from runner_core.messages import TaskRef
from runner_core.outcomes import Outcome, TaskOutcome
from runner_core.runners.agent import normalise_identity
from runner_core.runners.base import RunnerBase
from runner_core.runners.state import WorkItem
from runner_core.runners.summary import RunSummary, StageSummary

if TYPE_CHECKING:
    from encord.user_client import EncordUserClient
    from encord.workflow.stages.agent import AgentTask
    from rich.progress import Progress

    from runner_core.models import LabelRowInitialiseLabelsArgs, LabelRowMetadataIncludeArgs
    from runner_core.report import TaskRecord
    from runner_core.runners.agent import RunnerAgent

logger = logging.getLogger("runner_core")

F = TypeVar("F", bound=Callable[..., Any])


class SequentialRunner(RunnerBase):
    """Run agents over the tasks waiting in their stages, batch after batch.

    ```python
    runner = Runner(project_hash="<project-hash>")

    @runner.stage("pre-label")
    def pre_label(lr: LabelRowV2) -> str:
        return "annotate"

    if __name__ == "__main__":
        runner.run()  # CLI: --refresh-every --num-retries --task-batch-size --project-hash --max-tasks-per-stage
    ```
    """

    retry_backoff_base_s: float = 1.0
    """First retry waits about this long (x0.5-1.5 jitter); each further retry doubles it."""
    retry_backoff_max_s: float = 60.0

    def __init__(
        self,
        project_hash: str | UUID | None = None,
        *,
        pre_execution_callback: Callable[[SequentialRunner], None] | None = None,
        user_client: EncordUserClient | None = None,
    ) -> None:
        super().__init__(project_hash, user_client=user_client)
        self.pre_execution_callback = pre_execution_callback
        self._stop = threading.Event()
        self._records: list[TaskRecord] | None = None  # kept only while a run writes a report

    def stage(
        self,
        stage: str | UUID,
        *,
        label_row_metadata_include_args: LabelRowMetadataIncludeArgs | None = None,
        label_row_initialise_labels_args: LabelRowInitialiseLabelsArgs | None = None,
        overwrite: bool = False,
        will_set_priority: bool = False,
        failure_pathway: str | None = None,
    ) -> Callable[[F], F]:
        """Register the decorated function as the agent of `stage` (title or uuid); the function is returned as is."""

        def decorator(func: F) -> F:
            self._register(
                stage,
                func,
                label_row_metadata_include_args=label_row_metadata_include_args,
                label_row_initialise_labels_args=label_row_initialise_labels_args,
                overwrite=overwrite,
                will_set_priority=will_set_priority,
                failure_pathway=failure_pathway,
            )
            return func

        return decorator

    def stop(self) -> None:
        """Ask a polling run to finish after the current batch (safe from another thread or a signal handler)."""
        self._stop.set()

    def __call__(
        self,
        refresh_every: int | None = None,
        num_retries: int = 3,
        task_batch_size: int = 300,
        project_hash: str | UUID | None = None,
        max_tasks_per_stage: int | None = None,
        *,
        report: str | Path | None = None,
    ) -> RunSummary:
        """Run every registered agent over the tasks of its stage.

        Args:
            refresh_every: poll again every this many seconds (at least); None runs one pass and returns.
            num_retries: retries of a task that failed retryably (with exponential backoff and jitter).
            task_batch_size: tasks fetched and processed together.
            project_hash: the project, if not given to the runner.
            max_tasks_per_stage: process at most this many tasks per stage and pass.
            report: write the HTML run report here when the run ends (runner_core.report): every task with its
                frame, labels, route, attempts and error, failures first.
        """
        if max_tasks_per_stage is not None and max_tasks_per_stage < 1:
            raise ConfigurationError("max_tasks_per_stage must be at least 1")
        if refresh_every is not None and refresh_every <= 0:
            raise ConfigurationError("refresh_every must be a positive number of seconds (or None for one pass)")
        _check_batching(num_retries, task_batch_size)
        resolved_hash = self._prepare(project_hash)
        self._stop.clear()
        self._records = [] if report is not None else None
        total = RunSummary()
        try:
            return self._passes(resolved_hash, refresh_every, num_retries, task_batch_size, max_tasks_per_stage, total)
        finally:
            if report is not None:
                self._write_report(Path(report), resolved_hash)

    def _passes(
        self,
        resolved_hash: str,
        refresh_every: int | None,
        num_retries: int,
        task_batch_size: int,
        max_tasks_per_stage: int | None,
        total: RunSummary,
    ) -> RunSummary:
        while True:
            started = time.monotonic()
            try:
                summary = self._run_pass(resolved_hash, num_retries, task_batch_size, max_tasks_per_stage, show=True)
                total.merge(summary)
                if refresh_every is None or any(stage.total for stage in summary.stages):
                    _print_summary(summary)  # a polling runner stays quiet while there is nothing to do
            except RunnerCoreError:
                raise
            except Exception as exc:
                if refresh_every is None:
                    raise
                # Polling must outlive a flaky network: log, wait, try again.
                logger.warning("polling pass failed (%s); retrying at the next refresh", exc, exc_info=exc)
            if refresh_every is None or self._stop.is_set():
                return total
            if self._stop.wait(max(0.0, started + refresh_every - time.monotonic())):
                return total

    def run_stage(
        self,
        stage: str | UUID,
        *,
        project_hash: str | UUID | None = None,
        num_retries: int = 3,
        task_batch_size: int = 300,
        max_tasks: int | None = None,
    ) -> StageSummary:
        """Drain one stage once (no polling, no progress output): for a job or a server handler."""
        if max_tasks is not None and max_tasks < 1:
            raise ConfigurationError("max_tasks must be at least 1")
        _check_batching(num_retries, task_batch_size)
        project = self.resolve_project(project_hash)
        wanted = project.stage(normalise_identity(stage))
        for agent in self._agents:
            if project.stage(agent.identity).uuid == wanted.uuid:
                return self._drain(agent, project.project_hash, num_retries, task_batch_size, max_tasks, None)
        raise ConfigurationError(f"no agent is registered for stage {wanted.title!r} ({wanted.uuid})")

    def run(self) -> None:
        """The command line: `python my_agent.py [--refresh-every N] [--num-retries N] ... [--verbose]`.

        Exit codes: 0 when every task moved, was held or skipped; 1 when any task still failed after its retries;
        2 when the runner cannot start (configuration, credentials, project, stages); 130 on Ctrl-C. Each failed
        attempt is one line on stderr; the tracebacks go to `--log-file` (or to stderr with `--verbose`).
        """
        import typer

        from runner_core.cli_app import typer_app
        from runner_core.runners import cli_logging

        app = typer_app(add_completion=False)

        @app.command(help="Run the registered task agents on their stages.")
        def main(
            refresh_every: int | None = typer.Option(None, help="Poll for new tasks every N seconds."),
            num_retries: int = typer.Option(3, help="Retries of a task that failed retryably."),
            task_batch_size: int = typer.Option(300, help="Tasks processed together."),
            project_hash: str | None = typer.Option(None, help="The project, if not set in code."),
            max_tasks_per_stage: int | None = typer.Option(None, help="At most N tasks per stage and pass."),
            verbose: bool = typer.Option(False, "--verbose", "-v", help="Tracebacks and debug lines on stderr."),
            report: str | None = typer.Option(None, help="Write the HTML run report to this file."),
            log_file: str | None = typer.Option(
                None, help="Where tracebacks go [default: .runner-core/logs/run-<time>.log, made when needed]."
            ),
        ) -> None:
            from rich.console import Console

            err = Console(stderr=True)
            log_path = Path(log_file) if log_file else cli_logging.default_log_file()
            handlers = cli_logging.configure(verbose=verbose, log_file=log_path)
            try:
                summary = self(
                    refresh_every=refresh_every,
                    num_retries=num_retries,
                    task_batch_size=task_batch_size,
                    project_hash=project_hash,
                    max_tasks_per_stage=max_tasks_per_stage,
                    report=report,
                )
            except RunnerCoreError as exc:
                err.print(f"error: {exc}", style="red", markup=False, highlight=False, soft_wrap=True)
                raise typer.Exit(2) from None
            except KeyboardInterrupt:
                raise typer.Exit(130) from None
            finally:
                cli_logging.restore(handlers)
            if report:
                err.print(f"report: {report}", markup=False, highlight=False, soft_wrap=True)
            failed = summary.count(Outcome.FAILED)
            if failed:
                where = f"; tracebacks in {log_path}" if log_path.exists() and not verbose else ""
                err.print(f"{failed} task(s) failed{where}", style="red", markup=False, highlight=False, soft_wrap=True)
                raise typer.Exit(1)

        app()

    # --- internals -------------------------------------------------------------------------------------------

    def _prepare(self, project_hash: str | UUID | None) -> str:
        resolved = self._require_project_hash(project_hash)  # normalised: any spelling of the same uuid matches
        if self._project_hash is not None and resolved != self._project_hash:
            raise ConfigurationError(
                f"the runner serves project {self._project_hash}; it cannot run project {resolved}"
            )
        if not self._agents:
            raise ConfigurationError("no agent registered: decorate a function with @runner.stage(...)")
        self.validate(resolved)
        if self.pre_execution_callback is not None:
            self.pre_execution_callback(self)
        return resolved

    def _run_pass(
        self, project_hash: str, num_retries: int, batch_size: int, max_tasks: int | None, *, show: bool
    ) -> RunSummary:
        summary = RunSummary()
        with _progress(show) as progress:
            for agent in self._agents:
                if self._stop.is_set():
                    break
                summary.stages.append(self._drain(agent, project_hash, num_retries, batch_size, max_tasks, progress))
        return summary

    def _drain(
        self,
        agent: RunnerAgent,
        project_hash: str,
        num_retries: int,
        batch_size: int,
        max_tasks: int | None,
        progress: Progress | None,
    ) -> StageSummary:
        started = time.monotonic()
        stage = self.resolve_stage(agent, project_hash)
        summary = StageSummary(stage=stage.title)
        tasks: list[AgentTask] = list(islice(stage.stage.get_tasks(), max_tasks))
        bar = progress.add_task(f"{stage.title}", total=len(tasks)) if progress is not None else None
        for start in range(0, len(tasks), batch_size):
            if self._stop.is_set():
                break
            batch = tasks[start : start + batch_size]
            outcomes = self._run_with_retries(agent, project_hash, batch, num_retries, summary)
            summary.add(outcomes, titles={task.uuid: task.data_title for task in batch})
            if progress is not None and bar is not None:
                progress.advance(bar, len(batch))
        summary.duration_s = time.monotonic() - started
        return summary

    def _run_with_retries(
        self,
        agent: RunnerAgent,
        project_hash: str,
        tasks: Sequence[AgentTask],
        num_retries: int,
        summary: StageSummary,
    ) -> list[TaskOutcome]:
        attempts = num_retries + 1
        items = [WorkItem(task=task, attempt=1, max_attempts=attempts) for task in tasks]
        outcomes = self._run_agent_on_items(agent, items, project_hash=project_hash)
        tries = [1] * len(tasks)
        for attempt in range(2, attempts + 1):
            retry = [i for i, o in enumerate(outcomes) if o.outcome is Outcome.FAILED and o.retryable]
            if not retry or self._stop.is_set():
                break
            delay = self.backoff_delay(attempt - 1)
            logger.info("retrying %d task(s) at stage %s in %.2f s", len(retry), summary.stage, delay)
            if self._stop.wait(delay):
                break
            summary.retries += len(retry)
            # A retry re-fetches the task (it may have moved meanwhile) and solves its dependencies afresh.
            again = [
                WorkItem(
                    ref=TaskRef(
                        uuid=tasks[i].uuid,
                        data_hash=tasks[i].data_hash,
                        data_title=tasks[i].data_title,
                        label_branch_name=tasks[i].label_branch_name,  # the retry must pick the same label branch
                    ),
                    attempt=attempt,
                    max_attempts=attempts,
                )
                for i in retry
            ]
            for index, outcome in zip(
                retry, self._run_agent_on_items(agent, again, project_hash=project_hash), strict=True
            ):
                outcomes[index] = outcome
                tries[index] = attempt
        if self._records is not None:
            self._records.extend(
                _record(task, outcome, stage=summary.stage, attempts=n)
                for task, outcome, n in zip(tasks, outcomes, tries, strict=True)
            )
        return outcomes

    def _write_report(self, path: Path, project_hash: str) -> None:
        from runner_core.report import Section, read_labels, write_report

        records, self._records = self._records or [], None
        if records:
            now = read_labels(self.client, project_hash, (record.data_hash for record in records))
            for record in records:
                labels = now.get(record.data_hash)
                if labels is not None:
                    record.labels, record.stage_after, record.priority = labels, labels.stage, labels.priority
                    record.data_type = labels.data_type or record.data_type
        section = Section(name="sequential", title=f"SequentialRunner on project {project_hash}", records=records)
        write_report(path, [section], title="runner-core run report")

    def backoff_delay(self, retry: int) -> float:
        """Exponential backoff with jitter for the `retry`-th retry (1-based)."""
        base: float = min(self.retry_backoff_max_s, self.retry_backoff_base_s * 2.0 ** (retry - 1))
        jitter: float = random.uniform(0.5, 1.5)  # spreads the retries of many workers apart
        return base * jitter


Runner = SequentialRunner


def _record(task: AgentTask, outcome: TaskOutcome, *, stage: str, attempts: int) -> TaskRecord:
    from runner_core.report import TaskRecord

    return TaskRecord(
        task_uuid=str(task.uuid),
        data_hash=str(task.data_hash),
        title=task.data_title,
        data_type="",
        outcome=str(outcome.outcome),
        stage_before=stage,
        pathway=outcome.pathway_name,
        attempts=attempts,
        duration_s=outcome.duration_s,
        error=outcome.error,
    )


def _check_batching(num_retries: int, task_batch_size: int) -> None:
    if num_retries < 0:
        raise ConfigurationError("num_retries must be 0 or more")
    if task_batch_size < 1:
        raise ConfigurationError("task_batch_size must be at least 1")


@contextmanager
def _progress(show: bool) -> Iterator[Progress | None]:
    if not show:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    ) as progress:
        yield progress


def _print_summary(summary: RunSummary) -> None:
    from rich.console import Console

    console = Console()
    console.print(summary.table())
    for line in summary.failure_lines():
        console.print(line, style="red", markup=False, highlight=False, soft_wrap=True)
