"""`runner-core build aws|gcp`: reproducible zips with only what runs in the cloud, a size report and limits.

Every build here is offline: --no-deps (our code + agent) or --from-site-packages (this machine's packages).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from typer.testing import CliRunner

from deploy.build.archive import FIXED_DATE_TIME
from deploy.build.builder import GCP_ZIP, LAMBDA_ZIP, DependencySource, build_aws, gcp_entrypoints
from deploy.build.cli import app
from deploy.build.dependencies import TargetPlatform, resolve_installed
from deploy.build.errors import AgentNotFoundError, DependencyError, PackageTooLargeError
from deploy.build.report import group_name
from deploy.build.sources import AgentTarget, is_excluded, top_level_names
from tests.iac.iac_tools import FIXTURE_AGENT, FIXTURES

pytestmark = pytest.mark.iac

AGENT = FIXTURE_AGENT
NOT_SHIPPED = ("encord_emulator/", "deploy/", "tests/", "bench/", "examples/")


def _build(kind: str, out: Path, *extra: str, agent_dir: Path = FIXTURES) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, [kind, "--target", AGENT, "--agent-dir", str(agent_dir), "--out", str(out), *extra], catch_exceptions=False
    )
    return result.exit_code, result.output


def _names(archive: Path) -> list[str]:
    with zipfile.ZipFile(archive) as handle:
        return handle.namelist()


def test_aws_no_deps_build_is_reproducible(tmp_path: Path) -> None:
    # The second build reads a copy of the agent with other mtimes and permissions: the bytes must not change.
    moved = tmp_path / "elsewhere"
    shutil.copytree(FIXTURES, moved)
    for path in moved.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
        if path.is_file():
            path.chmod(0o600)
    code_a, output_a = _build("aws", tmp_path / "a", "--no-deps")
    code_b, output_b = _build("aws", tmp_path / "b", "--no-deps", agent_dir=moved)
    assert code_a == 0, output_a
    assert code_b == 0, output_b
    a, b = (tmp_path / "a" / LAMBDA_ZIP).read_bytes(), (tmp_path / "b" / LAMBDA_ZIP).read_bytes()
    assert a == b
    with zipfile.ZipFile(tmp_path / "a" / LAMBDA_ZIP) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {FIXED_DATE_TIME}
    assert {stat.S_IMODE(i.external_attr >> 16) for i in infos} <= {0o644, 0o755}


def test_aws_zip_holds_runtime_code_and_agent_only(tmp_path: Path) -> None:
    code, output = _build("aws", tmp_path, "--no-deps")
    assert code == 0, output
    names = _names(tmp_path / LAMBDA_ZIP)
    assert "functions/aws.py" in names
    assert "runner_core/__init__.py" in names
    assert "iac_agent/agent.py" in names
    assert not [n for n in names if n.startswith(NOT_SHIPPED)]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert "RUNNER_TARGET=iac_agent.agent:runner" in output


def test_aws_site_packages_zip_has_dependencies_without_noise(site_packages_zip: Path) -> None:
    names = _names(site_packages_zip)
    tops = {n.split("/")[0] for n in names}
    assert {"encord", "pydantic", "numpy", "av", "aws_lambda_powertools", "typer", "functions"} <= tops
    # boto3 comes with the Lambda runtime (see deploy/build/dependencies.py).
    assert not tops & {"boto3", "botocore", "s3transfer"}
    assert not tops & {"moto", "pytest", "encord_agents", "functions_framework", "encord_emulator"}
    assert not [n for n in names if n.endswith(".dist-info/RECORD")]
    assert not [n for n in names if "/tests/" in n or "__pycache__" in n]
    assert any(n.startswith("encord-0.1.211.dist-info/") for n in names), "dist metadata kept for version lookups"


def test_aws_size_report_lists_largest_packages(tmp_path: Path) -> None:
    code, output = _build("aws", tmp_path, "--no-deps")
    assert code == 0, output
    assert "unzipped" in output
    assert "zipped" in output
    assert "total" in output
    assert "runner_core" in output
    assert "functions" in output


def test_aws_over_the_size_limit_fails_clearly(tmp_path: Path) -> None:
    code, output = _build("aws", tmp_path, "--no-deps", "--max-unzipped-mb", "0.01")
    assert code == 1
    assert "over the limit" in output
    assert "250 MB" in output
    assert not (tmp_path / LAMBDA_ZIP).exists(), "no artifact is written when over the limit"
    with pytest.raises(PackageTooLargeError, match="Largest: "):
        build_aws(
            agent=AgentTarget.parse(AGENT),
            out_dir=tmp_path,
            agent_dir=FIXTURES,
            dependencies=DependencySource.NONE,
            max_unzipped_bytes=1000,
        )


def test_unknown_agent_fails_clearly(tmp_path: Path) -> None:
    code, output = _build("aws", tmp_path, "--no-deps", agent_dir=tmp_path)
    assert code == 1
    assert "iac_agent" in output
    with pytest.raises(AgentNotFoundError, match=r"package\.module:attr"):
        AgentTarget.parse("no_colon")
    with pytest.raises(AgentNotFoundError, match="not found"):
        build_aws(
            agent=AgentTarget.parse("iac_agent.missing:runner"),
            out_dir=tmp_path,
            agent_dir=FIXTURES,
            dependencies=DependencySource.NONE,
        )


def test_gcp_source_zip(tmp_path: Path) -> None:
    code_a, output_a = _build("gcp", tmp_path / "a")
    code_b, output_b = _build("gcp", tmp_path / "b")
    assert code_a == 0, output_a
    assert code_b == 0, output_b
    archive = tmp_path / "a" / GCP_ZIP
    assert archive.read_bytes() == (tmp_path / "b" / GCP_ZIP).read_bytes()
    names = _names(archive)
    assert {"main.py", "requirements.txt", "functions/gcp.py", "iac_agent/agent.py"} <= set(names)
    assert not [n for n in names if n.startswith(NOT_SHIPPED)]
    with zipfile.ZipFile(archive) as handle:
        main = handle.read("main.py").decode()
        requirements = handle.read("requirements.txt").decode().split()
    assert f"from functions.gcp import {', '.join(gcp_entrypoints())}" in main
    assert {"consume", "dispatch"} <= set(gcp_entrypoints())
    pins = {Requirement(line).name: Requirement(line) for line in requirements}
    assert str(pins["encord"].specifier) == "==0.1.211"
    assert {"functions-framework", "google-cloud-pubsub", "pydantic", "numpy", "av"} <= set(pins)
    assert all(str(r.specifier).startswith("==") for r in pins.values()), "every requirement is pinned"
    assert "boto3" not in pins


def test_gcp_main_module_loads_in_functions_framework(tmp_path: Path) -> None:
    code, output = _build("gcp", tmp_path)
    assert code == 0, output
    source = tmp_path / "src"
    with zipfile.ZipFile(tmp_path / GCP_ZIP) as archive:
        archive.extractall(source)
    # functions-framework loads main.py the way Cloud Functions does; functions must come from the zip.
    probe = (
        "import functions, functions_framework; "
        "functions_framework.create_app('consume_http', 'main.py'); "
        "functions_framework.create_app('dispatch', 'main.py'); "
        "print(functions.__file__)"
    )
    env = {**os.environ, "PYTHONPATH": str(source)}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=source, env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert Path(done.stdout.strip().splitlines()[-1]).resolve().is_relative_to(source.resolve())


def test_markers_are_evaluated_for_the_target_platform() -> None:
    requirement = [Requirement("typer")]
    linux = resolve_installed(requirement, environment=TargetPlatform().marker_environment())
    assert "colorama" not in linux  # typer needs colorama on Windows only
    assert "rich" in linux
    windows = {"platform_system": "Windows", "sys_platform": "win32", "os_name": "nt"}
    if importlib.util.find_spec("colorama") is None:  # not installed here: the marker still selects it
        with pytest.raises(DependencyError, match="colorama"):
            resolve_installed(requirement, environment=windows)
    else:
        assert "colorama" in resolve_installed(requirement, environment=windows)


@pytest.mark.parametrize(
    ("arcname", "excluded"),
    [
        ("numpy/_core/tests/test_x.py", True),
        ("pkg/__pycache__/m.cpython-311.pyc", True),
        ("pkg/m.pyc", True),
        ("encord-0.1.211.dist-info/RECORD", True),
        ("encord-0.1.211.dist-info/METADATA", False),
        ("numpy/testing/__init__.py", False),
        ("functions/aws.py", False),
    ],
)
def test_exclusion_rules(arcname: str, excluded: bool) -> None:
    assert is_excluded(arcname) is excluded


@pytest.mark.parametrize(
    ("arcname", "group"),
    [
        ("numpy.libs/libx.so", "numpy"),
        ("numpy-2.4.6.dist-info/METADATA", "numpy"),
        ("six.py", "six"),
        ("_cffi_backend.cpython-312-x86_64-linux-gnu.so", "_cffi_backend"),
    ],
)
def test_size_report_groups_by_package(arcname: str, group: str) -> None:
    assert group_name(arcname) == group


def test_an_agent_attribute_the_module_does_not_bind_fails_the_build(tmp_path: Path) -> None:
    with pytest.raises(AgentNotFoundError, match=r"binds no top-level 'nope' \(it binds: .*runner"):
        build_aws(
            agent=AgentTarget.parse("iac_agent.agent:nope"),
            out_dir=tmp_path,
            agent_dir=FIXTURES,
            dependencies=DependencySource.NONE,
        )
    assert not list(tmp_path.iterdir()), "nothing is written for a target that cannot load"


def test_top_level_names_include_conditional_and_imported_bindings() -> None:
    # Read from source: the build also imports the agent (see test_iac_agent_packaging), but this reader names the
    # bindings in its error message without running anything.
    source = (
        "import os\nfrom x import y as runner_b\nif os.environ.get('A'):\n    runner_a = 1\nelse:\n    runner_a = 2\n"
        "try:\n    runner_c: int = 3\nexcept ImportError:\n    pass\n"
    )
    names = top_level_names(ast.parse(source).body)
    assert {"runner_a", "runner_b", "runner_c", "os"} <= names
    assert "y" not in names
