"""The agent's own world in the artifact: its requirements, its helper package, and a load check before writing.

`deps_agent` declares one pure-Python requirement (xmltodict) and one with a native extension (PyYAML) and imports a
helper package of its own; `broken_agents` fail to load in each way a cold function would.
"""

from __future__ import annotations

import json
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deploy.build.agent_requirements import find_agent_requirements, read_requirements_file
from deploy.build.builder import LAMBDA_ZIP, MANIFEST, DependencySource, build_gcp
from deploy.build.cli import app
from deploy.build.errors import DependencyError
from deploy.build.sources import AgentTarget
from deploy.local.cli import app as local_app
from tests.iac.iac_tools import DEPS_AGENT, FIXTURES, REPO

pytestmark = pytest.mark.iac


# (target, what the failure says): each is the message the function itself would log when it cannot start.
BROKEN: list[tuple[str, str]] = [
    ("broken_agents.undeclared_import:runner", "needs 'sympy', which is not installed"),
    ("broken_agents.bad_name:runner", "ImportError: cannot import name 'no_such_loader' from 'yaml'"),
    ("broken_agents.bad_parameter:runner", "parameter 'threshold' of broken_agents.bad_parameter.route"),
    ("broken_agents.connects_at_import:runner", "NetworkRefusedError: the agent module opened a network connection"),
]


def _names(archive: Path) -> set[str]:
    with zipfile.ZipFile(archive) as opened:
        return set(opened.namelist())


def _installed(name: str) -> str:
    return f"{metadata.distribution(name).metadata['Name'].lower()}=={metadata.version(name)}"


def test_gcp_source_pins_the_agents_requirements_with_ours(tmp_path: Path) -> None:
    result = build_gcp(agent=AgentTarget.parse(DEPS_AGENT), out_dir=tmp_path, agent_dir=FIXTURES)
    names = _names(result.artifact)
    assert {"deps_agent/agent.py", "deps_agent/helpers/routing.py", "main.py"} <= names
    with zipfile.ZipFile(result.artifact) as opened:
        pins = opened.read("requirements.txt").decode().split()
    assert {_installed("pyyaml"), _installed("xmltodict"), "encord==0.1.211"} <= {p.lower() for p in pins}
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["agent_requirements"] == ["xmltodict>=0.13", "PyYAML>=6"]
    assert manifest["agent_requirements_source"].endswith("deps_agent/requirements.txt")


def test_aws_zip_holds_the_agents_pure_and_native_requirements(deps_site_packages_zip: Path) -> None:
    names = _names(deps_site_packages_zip)
    assert "xmltodict.py" in names
    assert any(n.startswith("yaml/_yaml.") and n.endswith(".so") for n in names), "PyYAML's C extension is packed"
    assert {"deps_agent/helpers/__init__.py", "deps_agent/helpers/routing.py"} <= names
    # Installed here for the tests, undeclared by the agent: stays out.
    assert not any(n.startswith("sympy/") for n in names)


# Each failure once per cloud would only repeat the same check; the clouds alternate over the cases instead.
@pytest.mark.parametrize(
    ("cloud", "target", "message"), [("aws" if i % 2 else "gcp", *case) for i, case in enumerate(BROKEN)]
)
def test_build_fails_with_the_functions_message_before_writing(
    cloud: str, target: str, message: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = [cloud, "--target", target, "--agent-dir", str(FIXTURES), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--no-deps"] if cloud == "aws" else args)
    assert result.exit_code == 1, result.output
    assert message in " ".join(result.output.split()), result.output
    assert not out.exists() or not list(out.iterdir()), "nothing is written for an agent that cannot load"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("broken_agents.missing:runner", "module 'broken_agents.missing' was not found"),
        ("broken_agents.no_runner:runner", "'broken_agents.no_runner' has no attribute 'runner'"),
        ("no_such_package.agent:runner", "module 'no_such_package.agent' was not found"),
    ],
)
def test_build_fails_on_a_missing_module_or_attribute_before_writing(target: str, message: str, tmp_path: Path) -> None:
    # Found from the source before the load check (nothing to pack, no such name), in the function's own words.
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["gcp", "--target", target, "--agent-dir", str(FIXTURES), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert message in " ".join(result.output.split()), result.output
    assert not out.exists()


def test_a_missing_requirement_fails_with_how_to_fix(tmp_path: Path) -> None:
    (tmp_path / "lonely_agent").mkdir()
    (tmp_path / "lonely_agent" / "__init__.py").write_text("runner = None\n")
    (tmp_path / "lonely_agent" / "requirements.txt").write_text("surely-not-installed-runner-core-pkg\n")
    with pytest.raises(DependencyError, match="surely-not-installed-runner-core-pkg is required but not installed"):
        build_gcp(agent=AgentTarget.parse("lonely_agent:runner"), out_dir=tmp_path / "out", agent_dir=tmp_path)
    assert not (tmp_path / "out").exists()


def test_a_requirement_the_environment_does_not_satisfy_fails(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("PyYAML<1\n")
    with pytest.raises(DependencyError, match=r"PyYAML<1 is required but this environment has PyYAML"):
        build_gcp(
            agent=AgentTarget.parse(DEPS_AGENT), out_dir=tmp_path / "out", agent_dir=FIXTURES, requirements=requirements
        )


def test_requirements_are_found_next_to_the_agent(tmp_path: Path) -> None:
    package = tmp_path / "pkg" / "sub"
    package.mkdir(parents=True)
    target = AgentTarget.parse("pkg.sub.agent:runner")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "mine"\ndependencies = ["xmltodict>=0.13"]\n')
    found = find_agent_requirements(target, agent_dir=tmp_path, explicit=None)
    assert [str(r) for r in found.requirements] == ["xmltodict>=0.13"]
    (package / "requirements.txt").write_text("PyYAML>=6 ; sys_platform == 'linux'  # nearest wins\n")
    found = find_agent_requirements(target, agent_dir=tmp_path, explicit=None)
    assert found.source == package / "requirements.txt"
    assert [r.name for r in found.requirements] == ["PyYAML"]


def test_runner_cores_own_pyproject_is_not_the_agents(tmp_path: Path) -> None:
    found = find_agent_requirements(AgentTarget.parse("examples.demo.agent:runner"), agent_dir=REPO, explicit=None)
    assert found.requirements == ()


@pytest.mark.parametrize(
    ("line", "problem"),
    [("-r other.txt", "is a pip option"), ("pkg @ https://example.invalid/p.whl", "names a URL or path")],
)
def test_requirement_lines_pip_cannot_pin_here_are_refused(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(f"PyYAML\n{line}\n")
    with pytest.raises(DependencyError, match=rf"requirements.txt:2: .*{problem}"):
        read_requirements_file(path)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        *BROKEN[1:],  # the local stack runs this venv, where the undeclared import is installed
        ("broken_agents.no_runner:runner", "'broken_agents.no_runner' has no attribute 'runner'"),
        ("broken_agents.missing:runner", "module 'broken_agents.missing' was not found"),
    ],
)
def test_local_up_fails_before_starting_anything(
    target: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(FIXTURES))
    state = tmp_path / "state.json"
    result = CliRunner().invoke(local_app, ["up", "--target", target, "--state-file", str(state)])
    if state.exists():  # started after all: stop it before failing
        CliRunner().invoke(local_app, ["down", "--state-file", str(state)])
    assert result.exit_code == 1, result.output
    assert message in " ".join(result.output.split()), result.output
    assert not state.exists(), "nothing was started, so nothing is recorded"


def test_a_loading_agent_builds_and_the_manifest_names_its_stages(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["aws", "--target", DEPS_AGENT, "--agent-dir", str(FIXTURES), "--out", str(tmp_path), "--no-deps"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / LAMBDA_ZIP).is_file()
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["stages"] == ["pre-label"]
    assert manifest["dependencies"] == DependencySource.NONE.value
