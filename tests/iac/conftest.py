"""Fixtures for the Terraform and build checks: tools (skipped with the reason when absent), copies in tmp dirs."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deploy.build.builder import LAMBDA_ZIP
from deploy.build.cli import app as build_app
from deploy.build.image import IMAGE_DIR
from deploy.local import components
from deploy.local.processes import ManagedProcess
from tests.iac.iac_tools import DEPS_AGENT, FIXTURE_AGENT, FIXTURES, REPO, TERRAFORM_DIR, Terraform, find_plugin_dir


@pytest.fixture(scope="session")
def terraform() -> Terraform:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not on PATH")
    return Terraform(binary=binary, plugin_dir=find_plugin_dir())


@pytest.fixture(scope="session")
def terraform_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """terraform/ copied to a tmp dir, so `init` never leaves .terraform folders in the repo."""
    root = tmp_path_factory.mktemp("tf") / "terraform"
    shutil.copytree(
        TERRAFORM_DIR, root, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl")
    )
    return root


@pytest.fixture(scope="session")
def checkov() -> Path:
    configured = os.environ.get("RUNNER_CHECKOV")
    path = Path(configured) if configured else REPO / ".tools" / "checkov" / "bin" / "checkov"
    if not path.is_file():
        pytest.skip(f"checkov is not installed at {path} (make install creates it; or set RUNNER_CHECKOV)")
    return path


@pytest.fixture(scope="session")
def site_packages_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One full Lambda zip built offline from this machine's packages (the slowest build: shared)."""
    out = tmp_path_factory.mktemp("aws-site")
    result = CliRunner().invoke(
        build_app,
        ["aws", "--target", FIXTURE_AGENT, "--agent-dir", str(FIXTURES), "--out", str(out), "--from-site-packages"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return out / LAMBDA_ZIP


@pytest.fixture(scope="session")
def deps_site_packages_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Lambda zip of the agent with its own requirements (found next to it) and helper package."""
    out = tmp_path_factory.mktemp("aws-deps")
    result = CliRunner().invoke(
        build_app,
        ["aws", "--target", DEPS_AGENT, "--agent-dir", str(FIXTURES), "--out", str(out), "--from-site-packages"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return out / LAMBDA_ZIP


@pytest.fixture(scope="session")
def deps_image_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`build aws --image` of the same agent: the container build context (Dockerfile and task/)."""
    out = tmp_path_factory.mktemp("aws-image")
    args = ["aws", "--target", DEPS_AGENT, "--agent-dir", str(FIXTURES), "--out", str(out), "--from-site-packages"]
    result = CliRunner().invoke(build_app, [*args, "--image"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out / IMAGE_DIR


@pytest.fixture
def moto_url(tmp_path: Path) -> Iterator[str]:
    """A real moto_server on a free loopback port, in a session of its own (the local stack's component)."""
    with ManagedProcess(components.moto_server(), log_dir=tmp_path) as moto:
        assert moto.url is not None
        yield moto.url
