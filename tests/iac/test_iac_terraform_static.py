"""Checks that need no provider: formatting, module conventions, secrets never in state, and the GCP module's
reliability settings (no google provider offline, so it is parsed with python-hcl2)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.iac.iac_tools import REPO, TERRAFORM_DIR, Terraform, TfModule, load_module

pytestmark = pytest.mark.iac

MODULES = ("modules/aws-sqs-agent", "modules/gcp-pubsub-agent")
ROOTS = (*MODULES, "examples/aws", "examples/gcp")
# Resources that would copy a secret value into Terraform state.
SECRET_VALUE_RESOURCES = frozenset({"aws_secretsmanager_secret_version", "google_secret_manager_secret_version"})
SECRET_VALUE_ATTRIBUTES = frozenset({"secret_string", "secret_binary", "secret_data", "secret_string_wo"})


@pytest.fixture(scope="module")
def gcp() -> TfModule:
    return load_module(TERRAFORM_DIR / "modules/gcp-pubsub-agent")


@pytest.fixture(scope="module")
def aws() -> TfModule:
    return load_module(TERRAFORM_DIR / "modules/aws-sqs-agent")


def test_terraform_fmt_is_clean(terraform: Terraform) -> None:
    done = terraform.run("fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR), cwd=REPO)
    assert done.returncode == 0, f"terraform fmt would change:\n{done.stdout}{done.stderr}"


@pytest.mark.parametrize("root", ROOTS)
def test_no_secret_value_in_any_resource(root: str) -> None:
    module = load_module(TERRAFORM_DIR / root)
    assert module.resources, f"{root} parsed to nothing"
    kinds = {kind for kind, _ in module.resources}
    assert not kinds & SECRET_VALUE_RESOURCES, "secret versions would put the value into state"
    for (kind, name), body in module.resources.items():
        assert not _keys(body) & SECRET_VALUE_ATTRIBUTES, f"{kind}.{name} sets a secret value"


@pytest.mark.parametrize("root", ROOTS)
def test_variables_typed_and_described_outputs_described(root: str) -> None:
    module = load_module(TERRAFORM_DIR / root)
    for name, body in module.variables.items():
        assert body.get("description"), f"variable {name} has no description"
        assert body.get("type"), f"variable {name} has no type"
    for name, body in module.outputs.items():
        assert body.get("description"), f"output {name} has no description"


@pytest.mark.parametrize("folder", MODULES)
def test_modules_follow_the_create_flag_convention(folder: str) -> None:
    module = load_module(TERRAFORM_DIR / folder)
    assert module.variables["create"]["default"] is True
    for (kind, name), body in module.resources.items():
        # count, or for_each for a resource that serves several entries (its map is empty when not created).
        gate = body.get("count", body.get("for_each", ""))
        assert "local.create" in str(gate), f"{kind}.{name} ignores the create flag"


def test_environment_variables_are_documented_or_read_by_the_code(aws: TfModule, gcp: TfModule) -> None:
    table = (REPO / "docs/architecture.md").read_text(encoding="utf-8")
    known = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    for package in ("functions", "runner_core"):
        for path in (REPO / package).rglob("*.py"):
            known |= set(re.findall(r"[\"']([A-Z][A-Z0-9_]{3,})[\"']", path.read_text(encoding="utf-8")))
    used = _env_names(aws) | _env_names(gcp)
    assert {"RUNNER_TARGET", "RUNNER_MAX_ATTEMPTS", "ENCORD_SSH_KEY_FILE", "RUNNER_DLQ_URL", "RUNNER_TOPIC"} <= used
    unknown = {name for name in used - known if not name.startswith("POWERTOOLS_")}
    assert not unknown, f"Terraform sets env vars nothing reads or documents (typo?): {sorted(unknown)}"


# ---------------------------------------------------------------- GCP module (python-hcl2)


def test_gcp_subscription_dead_letter_policy(gcp: TfModule) -> None:
    subscription = gcp.resource("google_pubsub_subscription", "consumer")
    policy = gcp.block(subscription, "dead_letter_policy")
    assert policy["dead_letter_topic"] == "${google_pubsub_topic.dead_letter[0].id}"
    assert policy["max_delivery_attempts"] == "${var.max_delivery_attempts}"
    assert gcp.variables["max_delivery_attempts"]["default"] == 5
    # RUNNER_MAX_ATTEMPTS must be the same number the subscription uses.
    assert "RUNNER_MAX_ATTEMPTS = tostring(var.max_delivery_attempts)" in gcp.locals["common_environment"]


def test_gcp_dead_letters_are_kept_and_alerted(gcp: TfModule) -> None:
    kept = gcp.resource("google_pubsub_subscription", "dead_letter")
    assert kept["topic"] == "${google_pubsub_topic.dead_letter[0].id}"
    alert = gcp.resource("google_monitoring_alert_policy", "dead_letter")
    condition = gcp.block(gcp.block(alert, "conditions"), "condition_threshold")
    assert "num_undelivered_messages" in condition["filter"]
    assert condition["comparison"] == "COMPARISON_GT"
    assert condition["threshold_value"] == 0


def test_gcp_pubsub_service_agent_can_dead_letter(gcp: TfModule) -> None:
    agent = "gcp-sa-pubsub.iam.gserviceaccount.com"
    publisher = gcp.resource("google_pubsub_topic_iam_member", "dead_letter_publisher_pubsub_agent")
    assert publisher["role"] == "roles/pubsub.publisher"
    assert publisher["topic"] == "${google_pubsub_topic.dead_letter[0].name}"
    assert agent in publisher["member"]
    subscriber = gcp.resource("google_pubsub_subscription_iam_member", "consumer_subscriber_pubsub_agent")
    assert subscriber["role"] == "roles/pubsub.subscriber"
    assert subscriber["subscription"] == "${google_pubsub_subscription.consumer[0].name}"
    assert agent in subscriber["member"]


def test_gcp_retry_policy_backs_off(gcp: TfModule) -> None:
    retry = gcp.block(gcp.resource("google_pubsub_subscription", "consumer"), "retry_policy")
    assert retry == {"minimum_backoff": "${var.minimum_backoff}", "maximum_backoff": "${var.maximum_backoff}"}
    assert gcp.variables["minimum_backoff"]["default"] == "10s"
    assert gcp.variables["maximum_backoff"]["default"] == "600s"


def test_gcp_push_is_authenticated_with_oidc(gcp: TfModule) -> None:
    push = gcp.block(gcp.resource("google_pubsub_subscription", "consumer"), "push_config")
    oidc = gcp.block(push, "oidc_token")
    assert oidc["service_account_email"] == "${google_service_account.invoker[0].email}"
    assert oidc["audience"] == push["push_endpoint"] == "${local.push_endpoint}"
    invoker = gcp.resource("google_cloud_run_v2_service_iam_member", "consumer_invoker")
    assert invoker["role"] == "roles/run.invoker"
    assert invoker["member"] == "${google_service_account.invoker[0].member}"
    # The consumer accepts no traffic from outside the project by default.
    assert gcp.variables["consumer_ingress_settings"]["default"] == "ALLOW_INTERNAL_ONLY"


def test_gcp_ack_deadline_matches_function_timeout(gcp: TfModule) -> None:
    subscription = gcp.resource("google_pubsub_subscription", "consumer")
    service = gcp.block(gcp.resource("google_cloudfunctions2_function", "consumer"), "service_config")
    assert subscription["ack_deadline_seconds"] == service["timeout_seconds"] == "${var.consumer_timeout}"
    validation = gcp.variables["consumer_timeout"]["validation"][0]["condition"]
    assert "var.consumer_timeout <= 600" in validation  # Pub/Sub's maximum ack deadline


@pytest.mark.parametrize("function", ["consumer", "producer", "webhook"])
def test_gcp_ssh_key_is_a_mounted_secret_file(gcp: TfModule, function: str) -> None:
    service = gcp.block(gcp.resource("google_cloudfunctions2_function", function), "service_config")
    volume = gcp.block(service, "secret_volumes")
    assert volume["secret"] == "${google_secret_manager_secret.ssh_key[0].secret_id}"
    assert volume["mount_path"] == "${local.ssh_key_mount_path}"
    assert gcp.block(volume, "versions")["path"] == "${local.ssh_key_file_name}"
    mount, file_name = gcp.locals["ssh_key_mount_path"], gcp.locals["ssh_key_file_name"]
    env = gcp.locals["common_environment"]
    assert 'ENCORD_SSH_KEY_FILE = "${local.ssh_key_mount_path}/${local.ssh_key_file_name}"' in env
    assert f"{mount}/{file_name}" == "/secrets/encord/ssh-key"
    assert "ENCORD_SSH_KEY =" not in env


def test_gcp_webhook_is_its_own_public_function_with_the_secret(gcp: TfModule) -> None:
    webhook = gcp.block(gcp.resource("google_cloudfunctions2_function", "webhook"), "service_config")
    secret_env = gcp.block(webhook, "secret_environment_variables")
    assert secret_env["key"] == "ENCORD_WEBHOOK_SECRET"
    assert secret_env["secret"] == "${google_secret_manager_secret.webhook[0].secret_id}"
    assert secret_env["version"] == "${var.webhook_secret_version}"
    accessor = gcp.resource("google_secret_manager_secret_iam_member", "producer_webhook")
    assert accessor["role"] == "roles/secretmanager.secretAccessor"
    # The scheduled producer accepts unsigned requests (schedule triggers): it must stay private.
    producer = gcp.block(gcp.resource("google_cloudfunctions2_function", "producer"), "service_config")
    assert producer["ingress_settings"] == "ALLOW_INTERNAL_ONLY"
    assert "secret_environment_variables" not in producer
    public = [name for (kind, name), body in gcp.resources.items() if body.get("member") == "allUsers"]
    assert public == ["webhook_public"]
    assert "webhook[0]" in gcp.resource("google_cloud_run_v2_service_iam_member", "webhook_public")["name"]


def test_gcp_source_object_is_named_by_hash(gcp: TfModule) -> None:
    source = gcp.resource("google_storage_bucket_object", "source")
    assert "${local.source_sha256}" in source["name"]


def test_gcp_runtime_accounts_get_only_their_roles(gcp: TfModule) -> None:
    roles: dict[str, set[str]] = {}
    for (kind, _), body in gcp.resources.items():
        if kind.endswith("_iam_member"):
            roles.setdefault(str(body["member"]), set()).add(str(body["role"]))
    assert roles["${google_service_account.consumer[0].member}"] == {
        "roles/secretmanager.secretAccessor",
        "roles/pubsub.publisher",
    }
    assert roles["${google_service_account.invoker[0].member}"] == {"roles/run.invoker"}
    # The one project-level grant: Firestore's role for the task ledger, narrowed by a condition to its database.
    project_grants = {name: body for (kind, name), body in gcp.resources.items() if "project_iam" in kind}
    assert set(project_grants) == {"ledger_user"}, "no other project-wide grants"
    assert project_grants["ledger_user"]["role"] == "roles/datastore.user"
    assert "/databases/(default)" in str(gcp.block(project_grants["ledger_user"], "condition")["expression"])


# ---------------------------------------------------------------- helpers


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def _env_names(module: TfModule) -> set[str]:
    texts = [str(module.locals.get(name, "")) for name in ("common_environment", "producer_environment")]
    for (kind, _), body in module.resources.items():
        if kind in ("aws_lambda_function", "google_cloudfunctions2_function"):
            texts.append(str(body))
    return set(re.findall(r"\b([A-Z][A-Z0-9_]{3,})\s*=", "\n".join(texts))) | set(
        re.findall(r"'key': '([A-Z][A-Z0-9_]+)'", "\n".join(texts))
    )


def test_checkov_passes_with_justified_skips(checkov: Path) -> None:
    done = subprocess.run(
        [str(checkov), "--skip-download", "--quiet", "--compact", "-d", str(TERRAFORM_DIR), "--framework", "terraform"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    # Every skip carries a reason after the check id.
    for path in TERRAFORM_DIR.rglob("*.tf"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "checkov:skip=" in line:
                assert re.search(r"checkov:skip=CKV\w*_\d+:\S.{15,}", line), f"unjustified skip in {path}: {line}"
