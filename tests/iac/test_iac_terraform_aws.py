"""The AWS module and example: init against the offline provider mirror, validate, and plan-only `terraform test`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.iac.iac_tools import Terraform

pytestmark = pytest.mark.iac


@pytest.mark.parametrize("root", ["modules/aws-sqs-agent", "examples/aws"])
def test_init_validate_and_terraform_test(terraform: Terraform, terraform_copy: Path, root: str) -> None:
    workdir = terraform_copy / root
    terraform.init(workdir)

    validated = terraform.run("validate", cwd=workdir)
    assert validated.returncode == 0, validated.stdout + validated.stderr

    tested = terraform.run("test", cwd=workdir, timeout=180)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert " 0 failed" in tested.stdout
    assert "passed" in tested.stdout
