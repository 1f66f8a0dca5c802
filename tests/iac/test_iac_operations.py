"""The operations Terraform: the GCP alert policies, log-based metrics and dashboard (python-hcl2: no google
provider offline), and names that must agree between the code and the dashboards. The AWS alarms are planned with
the mock provider in terraform/modules/aws-sqs-agent/tests/operations.tftest.hcl (run by test_iac_terraform_aws)."""

from __future__ import annotations

import re

import pytest

from functions._metrics import METRIC_OF_KIND, OutcomeKind
from tests.iac.iac_tools import TERRAFORM_DIR, TfModule, load_module

pytestmark = pytest.mark.iac


@pytest.fixture(scope="module")
def gcp() -> TfModule:
    return load_module(TERRAFORM_DIR / "modules/gcp-pubsub-agent")


def _condition(module: TfModule, name: str) -> dict[str, object]:
    policy = module.resource("google_monitoring_alert_policy", name)
    assert policy["notification_channels"] == "${var.notification_channels}", f"{name} notifies nobody"
    return module.block(module.block(policy, "conditions"), "condition_threshold")


def test_gcp_alerts_are_on_by_default_and_can_be_turned_off(gcp: TfModule) -> None:
    assert gcp.variables["create_alerts"]["default"] is True
    assert gcp.variables["create_dead_letter_alert"]["default"] is True
    for name in ("oldest_unacked_age", "consumer_errors"):
        assert gcp.resource("google_monitoring_alert_policy", name)["count"] == "${local.create_alerts ? 1 : 0}"
    assert "var.create_alerts" in gcp.locals["create_alerts"]


def test_gcp_dead_letter_backlog_alert(gcp: TfModule) -> None:
    condition = _condition(gcp, "dead_letter")
    assert "subscription/num_undelivered_messages" in str(condition["filter"])
    assert "google_pubsub_subscription.dead_letter[0].name" in str(condition["filter"])
    assert (condition["comparison"], condition["threshold_value"]) == ("COMPARISON_GT", 0)


def test_gcp_oldest_unacked_age_alert_watches_the_consumer_subscription(gcp: TfModule) -> None:
    condition = _condition(gcp, "oldest_unacked_age")
    assert "subscription/oldest_unacked_message_age" in str(condition["filter"])
    assert "google_pubsub_subscription.consumer[0].name" in str(condition["filter"])
    assert condition["comparison"] == "COMPARISON_GT"
    assert condition["threshold_value"] == "${var.oldest_unacked_age_threshold_seconds}"
    assert gcp.variables["oldest_unacked_age_threshold_seconds"]["default"] == 900


def test_gcp_consumer_error_alert_counts_5xx_of_the_consumer(gcp: TfModule) -> None:
    condition = _condition(gcp, "consumer_errors")
    assert 'metric.labels.response_code_class = "5xx"' in str(condition["filter"])
    assert 'resource.labels.service_name = "${var.name}-consumer"' in str(condition["filter"])
    assert condition["threshold_value"] == "${var.consumer_error_rate_threshold}"


def test_gcp_log_metrics_have_the_right_kinds_and_labels(gcp: TfModule) -> None:
    metrics = {name: body for (kind, name), body in gcp.resources.items() if kind == "google_logging_metric"}
    for name, body in metrics.items():
        assert body["count"] == "${local.create_log_metrics ? 1 : 0}", name
        assert body["filter"].startswith("${local.consumer_log_filter} AND "), name
        descriptor = gcp.block(body, "metric_descriptor")
        assert descriptor["metric_kind"] == "DELTA", name
        declared = {label["key"] for label in descriptor.get("labels", [])}
        assert declared == set(body.get("label_extractors", {})), f"{name}: labels and extractors differ"
        if descriptor["value_type"] == "DISTRIBUTION":
            assert body["value_extractor"].startswith("EXTRACT(jsonPayload."), name
            assert body.get("bucket_options"), name
        else:
            assert descriptor["value_type"] == "INT64", name
            assert "value_extractor" not in body, name
    outcomes = metrics["task_outcomes"]
    assert outcomes["label_extractors"]["kind"] == "EXTRACT(jsonPayload.kind)"
    assert gcp.block(metrics["agent_duration"], "metric_descriptor")["unit"] == "ms"


def test_gcp_dashboard_charts_only_metrics_the_module_defines(gcp: TfModule) -> None:
    defined = {name for (kind, name) in gcp.resources if kind == "google_logging_metric"}
    charts = gcp.locals["dashboard_charts"]
    charted = {m for chart in charts for m in re.findall(r"user_metric_filter, \"(\w+)\"", chart["filter"])}
    assert charted
    assert charted <= defined
    assert (
        gcp.resource("google_monitoring_dashboard", "this")["count"]
        == "${local.create && var.create_dashboard ? 1 : 0}"
    )


def test_aws_dashboard_names_the_metrics_the_consumer_emits() -> None:
    text = (TERRAFORM_DIR / "modules/aws-sqs-agent/dashboard.tf").read_text(encoding="utf-8")
    for kind in OutcomeKind:
        assert f'"{METRIC_OF_KIND[kind]}"' in text, f"{kind} is not on the dashboard"
    for name in ("MessagesDeadLettered", "AgentDuration", "EncordRequests", "ColdStart"):
        assert name in text
