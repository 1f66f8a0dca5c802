"""AWS: the metrics of `functions._metrics` as CloudWatch embedded metric format lines, through Powertools.

Powertools' `Metrics` is one shared set per process with one dimension set per flush; a batch spans several
(project, stage) pairs, so each pair gets its own short-lived provider (`EphemeralMetrics`) and its own EMF line.
The lines go to stdout, which Lambda ships to CloudWatch Logs, which extracts the metrics: no client, no API call.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from functions._metrics import (
    AGENT_DURATION,
    COLD_START,
    ENCORD_REQUESTS,
    MESSAGES_DEAD_LETTERED,
    MESSAGES_REJECTED,
    METRIC_OF_KIND,
    MOVED_BY_PATHWAY,
    UNKNOWN,
    StageTally,
    stage_of,
    tally,
)
from runner_core.outcomes import MessageResult

NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"
DEFAULT_NAMESPACE = "runner-core"
SERVICE_ENV = "POWERTOOLS_SERVICE_NAME"
_MAX_VALUES = 100  # EMF allows at most 100 values per metric in one line


def _provider(dimensions: Mapping[str, str]) -> EphemeralMetrics:
    metrics = EphemeralMetrics(
        namespace=os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE,
        service=os.environ.get(SERVICE_ENV) or "runner-core",
    )
    for name, value in dimensions.items():
        metrics.add_dimension(name=name, value=value)
    return metrics


def emit_batch(tallies: Iterable[StageTally]) -> None:
    """One line per (project, stage) with every outcome kind (zeros included, so alarms see data), the agent
    durations and the batch's Encord requests; one more per pathway a task moved along."""
    for entry in tallies:
        metrics = _provider({"project": entry.project, "stage": entry.stage})
        for kind, metric in METRIC_OF_KIND.items():
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=entry.kinds[kind])
        metrics.add_metric(name=MESSAGES_REJECTED, unit=MetricUnit.Count, value=entry.rejected)
        metrics.add_metric(name=ENCORD_REQUESTS, unit=MetricUnit.Count, value=entry.encord_requests)
        for duration in entry.durations_ms[:_MAX_VALUES]:
            metrics.add_metric(name=AGENT_DURATION, unit=MetricUnit.Milliseconds, value=duration)
        metrics.flush_metrics()
        for pathway, count in entry.moved_by_pathway.items():
            by_pathway = _provider({"project": entry.project, "stage": entry.stage, "pathway": pathway})
            by_pathway.add_metric(name=MOVED_BY_PATHWAY, unit=MetricUnit.Count, value=count)
            by_pathway.flush_metrics()


def emit_dead_lettered(counts: Mapping[tuple[str, str], int]) -> None:
    """Messages the consumer put into the dead-letter queue, per (project, stage)."""
    for (project, stage), count in counts.items():
        metrics = _provider({"project": project, "stage": stage})
        metrics.add_metric(name=MESSAGES_DEAD_LETTERED, unit=MetricUnit.Count, value=count)
        metrics.flush_metrics()


def emit_cold_start(function_name: str | None) -> None:
    metrics = _provider({"function_name": function_name or "unknown"})
    metrics.add_metric(name=COLD_START, unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()


class EmfMetrics:
    """One invocation's metrics (`functions.sqs_consumer.ConsumerMetrics`): each runner call's outcomes as they come,
    then the messages dead-lettered, each under the (project, stage) its tasks named."""

    def __init__(self) -> None:
        self._stages: dict[str, tuple[str, str]] = {}

    def observe(self, results: Sequence[MessageResult]) -> None:
        emit_batch(tally(results))
        self._stages.update((result.message_id, stage_of(result)) for result in results)

    def dead_lettered(self, message_ids: Iterable[str]) -> None:
        emit_dead_lettered(Counter(self._stages.get(message_id, (UNKNOWN, UNKNOWN)) for message_id in message_ids))
