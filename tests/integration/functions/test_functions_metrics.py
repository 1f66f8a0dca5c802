"""Metrics for a batch holding every outcome kind: AWS's EMF lines carry the right counts, and the GCP module's
log-based metric filters, run over the lines functions.gcp really writes, count the same."""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from encord.workflow.stages.agent import AgentTask

from encord_emulator.testing import RunningEmulator
from functions import aws, structured_logs, target
from functions._metrics import METRIC_OF_KIND
from runner_core import QueueRunner
from runner_core.producer import OutboundMessage, build_messages
from tests.iac.iac_tools import TERRAFORM_DIR, TfModule, load_module
from tests.iac.logging_filter import compile_filter, extract, log_entry
from tests.integration.functions import fn_agents
from tests.integration.functions.fn_harness import Moto, PubSubEmulator, lambda_context, receive_event, title_of
from tests.unit.functions._functions_fakes import ff_client

EVENTS = Path(__file__).parents[2] / "events"
GCP_SOURCE = str(Path(__file__).parents[3] / "functions" / "gcp.py")
HELD_ON = "dark-01.png"
PRE_MOVED = "bright-04.png"
DUPLICATED = "bright-03.png"
# One of every kind: moved x4 (3 annotate, 1 skip), held, a duplicate in the batch, a task that already left the
# stage, a retryable failure (the agent raises), a permanent one (a pathway the stage lacks).
BATCH = ["bright-00.png", "bright-01.png", "dark-02.png", HELD_ON, DUPLICATED, DUPLICATED, PRE_MOVED]
BATCH += [fn_agents.RAISES_ON, fn_agents.BAD_PATHWAY_ON]
EXPECTED_KINDS = {
    "moved": 4,
    "held": 1,
    "skipped_duplicate": 1,
    "skipped_not_at_stage": 1,
    "failed_retryable": 1,
    "failed_permanent": 1,
}
EXPECTED_PATHWAYS = {"annotate": 3, "skip": 1}
AGENT_RUNS = 7  # every task but the two skipped ones


def route(task: AgentTask) -> str | None:
    return None if task.data_title == HELD_ON else fn_agents.route(task)


@pytest.fixture
def runner(emu: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> QueueRunner:
    built = QueueRunner(project_hash=emu.project_hash)
    built.stage(fn_agents.STAGE)(route)
    monkeypatch.setitem(target._loaded, fn_agents.TARGET, built)
    return built


def _by_title(runner: QueueRunner) -> dict[str, OutboundMessage]:
    return {title_of(message): message for message in build_messages(runner)}


# --- AWS: embedded metric format ------------------------------------------------------------------------------------


def emf_metrics(stdout: str) -> dict[tuple[tuple[str, str], ...], dict[str, list[float]]]:
    """{dimensions (without service): {metric: its values}} from the EMF lines of one invocation."""
    found: dict[tuple[tuple[str, str], ...], dict[str, list[float]]] = {}
    for line in stdout.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        emf = json.loads(line)
        (directive,) = emf["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "runner-core"
        (dimension_names,) = directive["Dimensions"]
        key = tuple(sorted((name, emf[name]) for name in dimension_names if name != "service"))
        metrics = found.setdefault(key, {})
        for metric in directive["Metrics"]:
            assert metric["Name"] not in metrics, f"{metric['Name']} twice for {key}"
            value = emf[metric["Name"]]
            metrics[metric["Name"]] = value if isinstance(value, list) else [value]
    return found


def test_emf_lines_count_every_outcome_kind(
    emu: RunningEmulator,
    moto: Moto,
    runner: QueueRunner,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sqs = moto.client("sqs")
    queue_url = str(sqs.create_queue(QueueName="metrics")["QueueUrl"])
    monkeypatch.setenv("RUNNER_DLQ_URL", str(sqs.create_queue(QueueName="metrics-dlq")["QueueUrl"]))
    by_title = _by_title(runner)
    sqs.send_message(QueueUrl=queue_url, MessageBody=by_title[PRE_MOVED].body)
    assert aws.consume(receive_event(sqs, queue_url, 1), lambda_context()) == {"batchItemFailures": []}
    capsys.readouterr()

    monkeypatch.setattr(structured_logs, "_cold", True)
    for body in [by_title[title].body for title in BATCH] + ["{not json"]:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    response = aws.consume(receive_event(sqs, queue_url, len(BATCH) + 1), lambda_context())
    assert len(response["batchItemFailures"]) == 1  # only the retryable failure; the permanent ones dead-lettered

    metrics = emf_metrics(capsys.readouterr().out)
    stage = str(next(iter(runner.get_agent_stages())).uuid)
    ours = metrics[(("project", emu.project_hash), ("stage", stage))]
    assert {name: sum(ours[name]) for name in METRIC_OF_KIND.values()} == {
        "TasksMoved": 4,
        "TasksHeld": 1,
        "TasksSkippedDuplicate": 1,
        "TasksSkippedNotAtStage": 1,
        "TasksFailedRetryable": 1,
        "TasksFailedPermanent": 1,
    }
    assert ours["MessagesRejected"] == [0]
    assert len(ours["AgentDuration"]) == AGENT_RUNS
    assert all(value >= 0 for value in ours["AgentDuration"])
    assert ours["EncordRequests"][0] >= 2  # at least one fetch and one proceed for the batch
    assert ours["MessagesDeadLettered"] == [1]  # the unknown pathway
    for pathway, count in EXPECTED_PATHWAYS.items():
        key = (("pathway", pathway), ("project", emu.project_hash), ("stage", stage))
        assert metrics[key] == {"TasksMovedByPathway": [count]}
    unknown = metrics[(("project", "unknown"), ("stage", "unknown"))]
    assert unknown["MessagesRejected"] == [1]
    assert unknown["MessagesDeadLettered"] == [1]
    (cold,) = [values for key, values in metrics.items() if dict(key).get("function_name")]
    assert cold == {"ColdStart": [1]}


# --- GCP: log-based metrics from the Terraform module ------------------------------------------------------------

MODULE_NAME = "agent"
CONSUMER = {"type": "cloud_run_revision", "labels": {"service_name": f"{MODULE_NAME}-consumer"}}
PRODUCER = {"type": "cloud_run_revision", "labels": {"service_name": f"{MODULE_NAME}-producer"}}


def _resolve(expression: str, local_values: dict[str, Any]) -> str:
    """Interpolate the module's locals and var.name, as Terraform would for these strings."""
    for _ in range(5):
        for name, value in local_values.items():
            if isinstance(value, str):
                expression = expression.replace("${local." + name + "}", value)
        expression = expression.replace("${var.name}", MODULE_NAME)
    assert "${" not in expression, expression
    return expression


def _log_metrics(module: TfModule) -> dict[str, dict[str, Any]]:
    """Each log metric's filter and extractors, from the one for_each resource's template and its entry."""
    template = module.resource("google_logging_metric", "consumer")
    assert template["filter"] == "${local.consumer_log_filter} AND ${each.value.match}"
    assert '"EXTRACT(jsonPayload.${label.field})"' in template["label_extractors"]
    assert '"EXTRACT(jsonPayload.${each.value.value_field})"' in template["value_extractor"]
    return {
        name: {
            "filter": template["filter"].replace("${each.value.match}", metric["match"]),
            "label_extractors": {
                key: f"EXTRACT(jsonPayload.{label['field']})" for key, label in metric["labels"].items()
            },
            "value_extractor": metric["value_field"] and f"EXTRACT(jsonPayload.{metric['value_field']})",
        }
        for name, metric in module.locals["log_metrics"].items()
    }


def _push(data: bytes, attempt: int = 1) -> dict[str, Any]:
    raw = json.loads((EVENTS / "pubsub_push_raw.json").read_text())
    raw["message"]["data"] = base64.b64encode(data).decode()
    raw["message"]["messageId"] = f"m-{abs(hash(data))}"
    raw["deliveryAttempt"] = attempt
    return dict(raw)


def test_gcp_log_based_metrics_count_the_lines_the_consumer_writes(
    emu: RunningEmulator,
    pubsub: PubSubEmulator,
    runner: QueueRunner,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from google.cloud import pubsub_v1

    project = pubsub.new_project()
    dead_topic = f"projects/{project}/topics/dead"
    pubsub_v1.PublisherClient().create_topic(request={"name": dead_topic})
    monkeypatch.setenv("RUNNER_DEAD_LETTER_TOPIC", dead_topic)
    client = ff_client(GCP_SOURCE, "consume_http", "http")
    by_title = _by_title(runner)
    assert client.post("/", json=_push(by_title[PRE_MOVED].body.encode())).status_code == 204
    capsys.readouterr()

    monkeypatch.setattr(structured_logs, "_cold", True)
    envelope = json.loads(by_title[BATCH[0]].body)
    envelope["tasks"] = [json.loads(by_title[title].body)["tasks"][0] for title in BATCH]
    assert client.post("/", json=_push(json.dumps(envelope).encode())).status_code == 500  # retryable: nack
    assert client.post("/", json=_push(b"{not json")).status_code == 204  # dead-lettered, acked
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    entries = [log_entry(line, resource=CONSUMER) for line in lines]
    elsewhere = [log_entry(line, resource=PRODUCER) for line in lines]

    module = load_module(TERRAFORM_DIR / "modules/gcp-pubsub-agent")
    metrics = _log_metrics(module)
    assert set(metrics) == {
        "task_outcomes",
        "agent_duration",
        "encord_requests",
        "dead_lettered",
        "messages_rejected",
        "cold_starts",
    }
    matched: dict[str, list[dict[str, Any]]] = {}
    for name, body in metrics.items():
        matches = compile_filter(_resolve(body["filter"], module.locals))
        matched[name] = [entry for entry in entries if matches(entry)]
        assert not any(matches(entry) for entry in elsewhere), f"{name} counts another service's lines"

    stage = str(next(iter(runner.get_agent_stages())).uuid)
    labels = metrics["task_outcomes"]["label_extractors"]
    counted = Counter(
        tuple(extract(labels[key], entry) for key in ("project", "stage", "kind")) for entry in matched["task_outcomes"]
    )
    assert counted == Counter({(emu.project_hash, stage, kind): n for kind, n in EXPECTED_KINDS.items()})
    pathways = Counter(
        extract(labels["pathway"], entry)
        for entry in matched["task_outcomes"]
        if extract(labels["kind"], entry) == "moved"
    )
    assert pathways == Counter(EXPECTED_PATHWAYS)

    durations = [extract(metrics["agent_duration"]["value_extractor"], e) for e in matched["agent_duration"]]
    assert len(durations) == AGENT_RUNS
    assert all(isinstance(value, int | float) and value >= 0 for value in durations)
    requests = [extract(metrics["encord_requests"]["value_extractor"], e) for e in matched["encord_requests"]]
    assert requests
    assert all(isinstance(value, int) and value >= 2 for value in requests)

    dead_labels = metrics["dead_lettered"]["label_extractors"]
    dead = [(extract(dead_labels["project"], e), extract(dead_labels["stage"], e)) for e in matched["dead_lettered"]]
    assert dead == [("unknown", "unknown")]
    assert len(matched["messages_rejected"]) == 1
    assert len(matched["cold_starts"]) == 1
