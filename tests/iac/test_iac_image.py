"""`runner-core build aws --image`: the build context's Dockerfile and tree (the tree runs in the RIE: see
test_iac_lambda_rie.py), linted with checkov's Dockerfile checks."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from deploy.build.builder import MANIFEST
from deploy.build.dependencies import TargetPlatform
from deploy.build.image import DOCKERFILE, TASK_DIR, dockerfile

pytestmark = pytest.mark.iac


def test_context_holds_exactly_what_the_zip_holds(deps_image_context: Path, deps_site_packages_zip: Path) -> None:
    task = deps_image_context / TASK_DIR
    tree = {p.relative_to(task).as_posix() for p in task.rglob("*") if p.is_file()}
    with zipfile.ZipFile(deps_site_packages_zip) as archive:
        assert tree == set(archive.namelist())
    manifest = json.loads((deps_image_context.parent / MANIFEST).read_text())
    assert manifest["artifact"] == f"image/{DOCKERFILE}"
    assert manifest["unzipped_bytes"] == sum((task / name).stat().st_size for name in tree)


@pytest.mark.parametrize(("arch", "docker_platform"), [("x86_64", "linux/amd64"), ("aarch64", "linux/arm64")])
def test_dockerfile_is_the_lambda_base_image_with_the_handler_as_cmd(arch: str, docker_platform: str) -> None:
    lines = [line for line in dockerfile(TargetPlatform("3.12", arch)).splitlines() if not line.startswith("#")]
    assert lines == [
        f"FROM --platform={docker_platform} public.ecr.aws/lambda/python:3.12",
        "COPY task/ ${LAMBDA_TASK_ROOT}/",
        'CMD ["functions.aws.consume"]',
    ]


def test_checkov_dockerfile_checks_pass(deps_image_context: Path, checkov: Path) -> None:
    done = subprocess.run(
        [str(checkov), "--framework", "dockerfile", "--file", str(deps_image_context / DOCKERFILE), "--compact",
         "--quiet", "--output", "json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    report = json.loads(done.stdout)
    summary = report["summary"]
    assert summary["failed"] == 0, done.stdout[-3000:]
    assert summary["passed"] > 0, "checkov ran its Dockerfile checks"
    assert summary["skipped"] == 2, "only the two justified skips"
