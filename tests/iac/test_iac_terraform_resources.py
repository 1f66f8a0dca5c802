"""GCP resources as variables, read with python-hcl2 (no google provider offline; the AWS side is planned in
terraform/modules/aws-sqs-agent/tests/package.tftest.hcl)."""

from __future__ import annotations

from typing import Any

import hcl2
import pytest
from hcl2.utils import SerializationOptions

from tests.iac.iac_tools import TERRAFORM_DIR, load_module

pytestmark = pytest.mark.iac


def test_gcp_consumer_resources_come_from_variables() -> None:
    gcp = load_module(TERRAFORM_DIR / "modules/gcp-pubsub-agent")
    consumer = gcp.resource("google_cloudfunctions2_function", "consumer")
    service = gcp.block(consumer, "service_config")
    assert service["available_memory"] == "${var.consumer_memory}"
    assert service["available_cpu"] == "${var.consumer_cpu}"
    assert service["max_instance_count"] == "${var.consumer_max_instance_count}"
    assert service["min_instance_count"] == "${var.consumer_min_instance_count}"
    assert service["max_instance_request_concurrency"] == "${var.consumer_max_instance_request_concurrency}"
    assert gcp.variables["consumer_max_instance_request_concurrency"]["default"] == 1


def _module_call(example: str) -> dict[str, Any]:
    options = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
    with (TERRAFORM_DIR / "examples" / example / "main.tf").open(encoding="utf-8") as handle:
        parsed = hcl2.load(handle, serialization_options=options)
    call: dict[str, Any] = parsed["module"][0]["agent"]
    return call


@pytest.mark.parametrize(
    ("example", "settings"),
    [
        (
            "gcp",
            ["consumer_memory", "consumer_cpu", "consumer_max_instance_count", "consumer_min_instance_count"],
        ),
        (
            "aws",
            [
                "architecture",
                "consumer_memory_size",
                "consumer_timeout",
                "consumer_ephemeral_storage_size",
                "consumer_reserved_concurrency",
                "maximum_concurrency",
            ],
        ),
    ],
)
def test_examples_surface_the_resources(example: str, settings: list[str]) -> None:
    call = _module_call(example)
    example_variables = load_module(TERRAFORM_DIR / "examples" / example).variables
    for setting in settings:
        assert call[setting] == f"${{var.{setting}}}", setting
        assert setting in example_variables, setting
