"""The task ledger in both Terraform modules, read with python-hcl2 (the GCP root cannot be initialised offline;
the AWS module's plan-level checks live in terraform/modules/aws-sqs-agent/tests/ledger.tftest.hcl)."""

from __future__ import annotations

import pytest

from tests.iac.iac_tools import TERRAFORM_DIR, TfModule, load_module

pytestmark = pytest.mark.iac


@pytest.fixture(scope="module")
def gcp() -> TfModule:
    return load_module(TERRAFORM_DIR / "modules/gcp-pubsub-agent")


@pytest.fixture(scope="module")
def aws() -> TfModule:
    return load_module(TERRAFORM_DIR / "modules/aws-sqs-agent")


def test_gcp_firestore_database_is_native_or_the_existing_default(gcp: TfModule) -> None:
    database = gcp.resource("google_firestore_database", "ledger")
    assert database["type"] == "FIRESTORE_NATIVE"
    assert database["name"] == "(default)"  # functions.ledgers.firestore uses the default database
    assert "var.create_firestore_database" in str(database["count"])
    assert gcp.variables["create_firestore_database"]["default"] is False


def test_gcp_ttl_policy_is_on_expires_at(gcp: TfModule) -> None:
    field = gcp.resource("google_firestore_field", "ledger_ttl")
    assert field["field"] == "expires_at"
    assert field["collection"] == "${var.ledger_collection}"
    assert "ttl_config" in field


def test_gcp_both_functions_are_datastore_users(gcp: TfModule) -> None:
    grant = gcp.resource("google_project_iam_member", "ledger_user")
    assert grant["role"] == "roles/datastore.user"
    users = gcp.locals["ledger_users"]
    assert '["consumer"]' in users
    assert '["producer"]' in users
    member = str(grant["member"])
    assert "google_service_account.consumer[0].member" in member
    assert "google_service_account.producer[0].member" in member


def test_gcp_functions_get_the_collection(gcp: TfModule) -> None:
    environment = str(gcp.locals["ledger_environment"])
    assert "RUNNER_LEDGER_COLLECTION" in environment
    assert "var.ledger_collection" in environment
    assert "local.ledger_environment" in str(gcp.locals["common_environment"])


def test_aws_table_contract_in_source(aws: TfModule) -> None:
    table = aws.resource("aws_dynamodb_table", "ledger")
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert table["hash_key"] == "pk"
    assert aws.block(table, "ttl")["attribute_name"] == "expires_at"
    assert aws.block(table, "server_side_encryption")["enabled"] is True
    precondition = aws.block(aws.block(table, "lifecycle"), "precondition")
    assert "local.lease_seconds < local.visibility_timeout_seconds" in str(precondition["condition"])
