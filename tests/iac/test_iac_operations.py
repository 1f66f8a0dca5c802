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
    # One resource serves every metric (for_each over local.log_metrics): its template, then each entry.
    body = gcp.resource("google_logging_metric", "consumer")
    assert "if local.create_log_metrics" in body["for_each"]
    assert body["filter"] == "${local.consumer_log_filter} AND ${each.value.match}"
    descriptor = gcp.block(body, "metric_descriptor")
    assert descriptor["metric_kind"] == "DELTA"
    assert descriptor["value_type"] == '${each.value.buckets == null ? "INT64" : "DISTRIBUTION"}'
    # Declared labels and their extractors come from the same entry, so they cannot differ.
    assert gcp.block(descriptor, "dynamic")["labels"]["for_each"] == "${each.value.labels}"
    assert "for key, label in each.value.labels" in body["label_extractors"]
    assert "EXTRACT(jsonPayload.${each.value.value_field})" in body["value_extractor"]
    assert (
        gcp.block(body, "dynamic")["bucket_options"]["for_each"]
        == "${each.value.buckets == null ? [] : [each.value.buckets]}"
    )
    metrics = gcp.locals["log_metrics"]
    for name, metric in metrics.items():
        assert set(metric) == {"description", "match", "unit", "labels", "value_field", "buckets"}, name
        # A distribution has a value and buckets; a count has neither.
        assert (metric["value_field"] is None) == (metric["buckets"] is None), name
        assert all(label["field"] and label["description"] for label in metric["labels"].values()), name
    assert metrics["task_outcomes"]["labels"]["kind"]["field"] == "kind"
    assert metrics["agent_duration"]["unit"] == "ms"


def test_gcp_dashboard_charts_only_metrics_the_module_defines(gcp: TfModule) -> None:
    defined = set(gcp.locals["log_metrics"])
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
