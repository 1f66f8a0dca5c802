"""Opt-in (RUNNER_CORE_SLOW=1): `terraform apply` the AWS example against a real moto_server, check what was
created through the AWS API, then `terraform destroy`. About a minute: the provider waits on each SQS queue."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from deploy.build.builder import LAMBDA_ZIP
from deploy.build.cli import app as build_app
from tests.iac.iac_tools import FIXTURE_AGENT, FIXTURES, Terraform

pytestmark = [
    pytest.mark.iac,
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(os.environ.get("RUNNER_CORE_SLOW") != "1", reason="slow: set RUNNER_CORE_SLOW=1 to run"),
]

REGION = "eu-west-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}


def test_apply_and_destroy_the_aws_example_against_moto(
    terraform: Terraform, terraform_copy: Path, moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = CliRunner().invoke(
        build_app,
        ["aws", "--target", FIXTURE_AGENT, "--agent-dir", str(FIXTURES), "--out", str(tmp_path), "--no-deps"],
        catch_exceptions=False,
    )
    assert built.exit_code == 0, built.output
    root = terraform_copy / "examples/aws"
    terraform.init(root)
    variables = [
        f"-var=aws_endpoint_url={moto_url}",
        f"-var=region={REGION}",
        f"-var=runner_target={FIXTURE_AGENT}",
        f"-var=package_path={tmp_path / LAMBDA_ZIP}",
        "-var=package_bucket_force_destroy=true",
        "-var=consumer_ephemeral_storage_size=2048",
    ]
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    applied = terraform.run("apply", "-auto-approve", "-input=false", *variables, cwd=root, timeout=400)
    assert applied.returncode == 0, applied.stdout[-4000:] + applied.stderr[-4000:]

    outputs = json.loads(terraform.run("output", "-json", cwd=root).stdout)
    sqs = boto3.client("sqs", endpoint_url=moto_url, region_name=REGION)
    attributes = sqs.get_queue_attributes(QueueUrl=outputs["queue_url"]["value"], AttributeNames=["All"])["Attributes"]
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == 5
    assert int(attributes["VisibilityTimeout"]) == 6 * 120
    mappings = boto3.client("lambda", endpoint_url=moto_url, region_name=REGION).list_event_source_mappings()
    assert [m["FunctionResponseTypes"] for m in mappings["EventSourceMappings"]] == [["ReportBatchItemFailures"]]
    # The code went through the versioned package bucket, and the consumer has the /tmp it was given.
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name=REGION)
    bucket, key = outputs["package_s3_bucket"]["value"], outputs["package_s3_key"]["value"]
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert [v["VersionId"] for v in versions] == [outputs["package_s3_object_version"]["value"]]
    assert versions[0]["Size"] == (tmp_path / LAMBDA_ZIP).stat().st_size
    consumer = boto3.client("lambda", endpoint_url=moto_url, region_name=REGION).get_function_configuration(
        FunctionName=outputs["consumer_function_name"]["value"]
    )
    assert consumer["EphemeralStorage"]["Size"] == 2048
    secrets = boto3.client("secretsmanager", endpoint_url=moto_url, region_name=REGION)
    secret = secrets.describe_secret(SecretId=outputs["ssh_key_secret_arn"]["value"])
    assert not secret.get("VersionIdsToStages"), "the module must not put a secret value"
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_url, region_name=REGION)
    table_name = outputs["ledger_table_name"]["value"]
    table = dynamodb.describe_table(TableName=table_name)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    assert (ttl["AttributeName"], ttl["TimeToLiveStatus"]) == ("expires_at", "ENABLED")

    # The same stack switched to a container image: both functions are replaced by image functions whose CMD is
    # their handler, and nothing is uploaded any more.
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/agent:1"
    applied = terraform.run(
        "apply", "-auto-approve", "-input=false", *variables, f"-var=image_uri={image}", cwd=root, timeout=400
    )
    assert applied.returncode == 0, applied.stdout[-4000:] + applied.stderr[-4000:]
    lambda_api = boto3.client("lambda", endpoint_url=moto_url, region_name=REGION)
    for output, handler in (("consumer_function_name", "consume"), ("producer_function_name", "dispatch")):
        config = lambda_api.get_function_configuration(FunctionName=outputs[output]["value"])
        assert config["PackageType"] == "Image"
        assert config["ImageConfigResponse"]["ImageConfig"]["Command"] == [f"functions.aws.{handler}"]
    variables.append(f"-var=image_uri={image}")

    destroyed = terraform.run("destroy", "-auto-approve", "-input=false", *variables, cwd=root, timeout=400)
    assert destroyed.returncode == 0, destroyed.stdout[-4000:] + destroyed.stderr[-4000:]
    assert not sqs.list_queues().get("QueueUrls")
