"""Helpers for the Terraform and build checks: tool discovery and offline Terraform runs."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2.utils import SerializationOptions

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_AGENT = "iac_agent.agent:runner"
DEPS_AGENT = "deps_agent.agent:runner"  # declares its own requirements and has a helper package
_PROVIDER_SUBPATH = Path("registry.terraform.io/hashicorp/aws")
_DEFAULT_PLUGIN_DIRS = (Path("/opt/tf-plugins"), Path.home() / ".terraform.d/plugins")


def find_plugin_dir() -> Path | None:
    """RUNNER_TF_PLUGIN_DIR, else a known mirror location holding the AWS provider."""
    configured = os.environ.get("RUNNER_TF_PLUGIN_DIR")
    candidates = [Path(configured)] if configured else list(_DEFAULT_PLUGIN_DIRS)
    for candidate in candidates:
        if any((candidate / _PROVIDER_SUBPATH).glob("*/linux_amd64/terraform-provider-aws_*")):
            return candidate
    return None


@dataclass(frozen=True)
class Terraform:
    binary: str
    plugin_dir: Path | None

    def env(self) -> dict[str, str]:
        # The image points TF_CLI_CONFIG_FILE at a missing file; /dev/null silences that warning.
        return {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": "/dev/null", "TF_IN_AUTOMATION": "1"}

    def run(self, *args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, *args, "-no-color"] if args[0] != "fmt" else [self.binary, *args],
            cwd=cwd,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def init(self, root: Path) -> None:
        if self.plugin_dir is None:
            pytest.skip("the Terraform AWS provider mirror is absent (set RUNNER_TF_PLUGIN_DIR)")
        done = self.run("init", "-backend=false", "-input=false", f"-plugin-dir={self.plugin_dir}", cwd=root)
        assert done.returncode == 0, done.stdout + done.stderr


def _unquote(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).strip('"'): _unquote(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    return value


@dataclass(frozen=True)
class TfModule:
    """A Terraform folder parsed with python-hcl2 (expressions stay as `${...}` strings)."""

    resources: dict[tuple[str, str], dict[str, Any]]
    variables: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    locals: dict[str, Any]

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        return self.resources[(kind, name)]

    def block(self, body: dict[str, Any], name: str) -> dict[str, Any]:
        """The single nested block `name` of a resource body."""
        blocks = body[name]
        assert isinstance(blocks, list), f"{name} is not a block"
        assert len(blocks) == 1, f"expected exactly one {name} block"
        block: dict[str, Any] = blocks[0]
        return block


def load_module(folder: Path) -> TfModule:
    options = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
    resources: dict[tuple[str, str], dict[str, Any]] = {}
    variables: dict[str, dict[str, Any]] = {}
    outputs: dict[str, dict[str, Any]] = {}
    local_values: dict[str, Any] = {}
    for path in sorted(folder.glob("*.tf")):
        with path.open(encoding="utf-8") as handle:
            parsed = _unquote(hcl2.load(handle, serialization_options=options))
        for item in parsed.get("resource", []):
            for kind, named in item.items():
                for name, body in named.items():
                    resources[(kind, name)] = body
        for item in parsed.get("variable", []):
            variables.update(item)
        for item in parsed.get("output", []):
            outputs.update(item)
        for item in parsed.get("locals", []):
            local_values.update(item)
    return TfModule(resources=resources, variables=variables, outputs=outputs, locals=local_values)
