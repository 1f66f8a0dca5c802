"""The GCP module is consistent with batched delivery (python-hcl2: no google provider offline): the producer packs
the code's default number of tasks per message, the consumer can republish failed tasks to its own topic, one
request (one batch) runs per instance within the ack deadline, and the attempts the consumer counts match the
subscription's dead-letter policy."""

from __future__ import annotations

import pytest

from functions.publishers.pubsub import DEFAULT_TASKS_PER_MESSAGE
from tests.iac.iac_tools import TERRAFORM_DIR, TfModule, load_module

pytestmark = pytest.mark.iac


@pytest.fixture(scope="module")
def gcp() -> TfModule:
    return load_module(TERRAFORM_DIR / "modules/gcp-pubsub-agent")


def test_the_producer_packs_the_codes_default_tasks_per_message(gcp: TfModule) -> None:
    assert gcp.variables["tasks_per_message"]["default"] == DEFAULT_TASKS_PER_MESSAGE
    assert gcp.locals["producer_batch_environment"] == {
        "RUNNER_TASKS_PER_MESSAGE": "${tostring(var.tasks_per_message)}"
    }
    assert "local.producer_batch_environment" in gcp.locals["producer_environment"]


def test_the_consumer_republishes_failed_tasks_to_its_own_topic(gcp: TfModule) -> None:
    assert gcp.locals["consumer_batch_environment"]["RUNNER_TOPIC"] == '${try(google_pubsub_topic.this[0].id, "")}'
    service = gcp.block(gcp.resource("google_cloudfunctions2_function", "consumer"), "service_config")
    assert "local.consumer_batch_environment" in service["environment_variables"]
    grant = gcp.resource("google_pubsub_topic_iam_member", "consumer_republisher")
    assert grant["topic"] == "${google_pubsub_topic.this[0].name}"
    assert grant["role"] == "roles/pubsub.publisher"
    assert grant["member"] == "${google_service_account.consumer[0].member}"


def test_one_batch_per_instance_within_the_ack_deadline(gcp: TfModule) -> None:
    service = gcp.block(gcp.resource("google_cloudfunctions2_function", "consumer"), "service_config")
    subscription = gcp.resource("google_pubsub_subscription", "consumer")
    assert service["max_instance_request_concurrency"] == "${var.consumer_max_instance_request_concurrency}"
    assert gcp.variables["consumer_max_instance_request_concurrency"]["default"] == 1
    assert service["max_instance_count"] == "${var.consumer_max_instance_count}"
    assert subscription["ack_deadline_seconds"] == service["timeout_seconds"] == "${var.consumer_timeout}"
    assert "RUNNER_FUNCTION_TIMEOUT_S = tostring(var.consumer_timeout)" in str(service["environment_variables"])


def test_the_consumers_attempt_limit_is_the_subscriptions(gcp: TfModule) -> None:
    subscription = gcp.resource("google_pubsub_subscription", "consumer")
    policy = gcp.block(subscription, "dead_letter_policy")
    assert policy["max_delivery_attempts"] == "${var.max_delivery_attempts}"
    assert "RUNNER_MAX_ATTEMPTS = tostring(var.max_delivery_attempts)" in gcp.locals["common_environment"]
    retry = gcp.block(subscription, "retry_policy")
    assert retry == {"minimum_backoff": "${var.minimum_backoff}", "maximum_backoff": "${var.maximum_backoff}"}
