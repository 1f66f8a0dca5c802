"""`runner-core build aws|gcp`: make the deployable artifact for one cloud."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from deploy.build.builder import BuildResult, DependencySource, build_aws, build_gcp
from deploy.build.dependencies import TargetPlatform
from deploy.build.errors import BuildError
from deploy.build.report import render
from deploy.build.sources import AgentTarget
from runner_core.cli_app import typer_app

app = typer_app(no_args_is_help=True, help="Build deployable artifacts (Lambda zip, Cloud Functions source zip).")

_console = Console(stderr=True)


class Architecture(StrEnum):
    X86_64 = "x86_64"
    ARM64 = "arm64"


TargetOption = Annotated[
    str | None, typer.Option("--target", help="Your runner as package.module:attr (RUNNER_TARGET).  [required]")
]
# The spelling before every command said --target; still accepted, with a note, until users have moved.
OldAgentOption = Annotated[str | None, typer.Option("--agent", hidden=True)]
OutOption = Annotated[Path, typer.Option("--out", help="Output folder (created when missing).")]
AgentDirOption = Annotated[Path, typer.Option("--agent-dir", help="Folder holding the agent's top-level package.")]
RequirementsOption = Annotated[
    Path | None,
    typer.Option(
        "--requirements",
        help="The agent's requirements (requirements.txt or pyproject.toml). Default: the nearest one next to the "
        "agent, from its module's folder up to --agent-dir. Install them here first: the build pins these versions.",
    ),
]


@app.command("aws")
def aws(
    out: OutOption,
    target: TargetOption = None,
    agent: OldAgentOption = None,
    agent_dir: AgentDirOption = Path("."),
    requirements: RequirementsOption = None,
    python_version: Annotated[str, typer.Option(help="Lambda runtime Python version.")] = "3.12",
    architecture: Annotated[Architecture, typer.Option(help="Lambda architecture.")] = Architecture.X86_64,
    wheelhouse: Annotated[
        Path | None, typer.Option(help="Resolve wheels only from this folder (offline, pip --no-index).")
    ] = None,
    from_site_packages: Annotated[
        bool,
        typer.Option(help="LOCAL TESTING ONLY: copy this machine's installed packages instead of Linux wheels."),
    ] = False,
    no_deps: Annotated[
        bool, typer.Option("--no-deps", help="Package our code and the agent only (deps from a layer).")
    ] = False,
    bundle_boto3: Annotated[bool, typer.Option(help="Bundle boto3/botocore instead of the runtime's.")] = False,
    image: Annotated[
        bool,
        typer.Option(help="Write a container build context (OUT/image: Dockerfile + task/) instead of a zip."),
    ] = False,
    max_unzipped_mb: Annotated[
        float | None,
        typer.Option(help="Fail above this unzipped size (Lambda's limits: 250 for a zip, 10240 for an image)."),
    ] = None,
) -> None:
    """Lambda zip (or, with --image, a container build context): our code, your agent, Linux wheels for the target."""
    runner = _target(target, agent)
    if from_site_packages and no_deps:
        raise typer.BadParameter("--from-site-packages and --no-deps exclude each other")
    if from_site_packages:
        source = DependencySource.SITE_PACKAGES
        _console.print("[yellow]--from-site-packages: the zip targets THIS machine, not Lambda (local tests).")
    else:
        source = DependencySource.NONE if no_deps else DependencySource.DOWNLOAD
    arch = "aarch64" if architecture is Architecture.ARM64 else "x86_64"
    result = _run(
        lambda: build_aws(
            agent=runner,
            out_dir=out,
            agent_dir=agent_dir,
            requirements=requirements,
            platform=TargetPlatform(python_version=python_version, architecture=arch),
            dependencies=source,
            wheelhouse=wheelhouse,
            bundle_boto3=bundle_boto3,
            image=image,
            max_unzipped_bytes=None if max_unzipped_mb is None else int(max_unzipped_mb * 1024 * 1024),
        )
    )
    _summarise(result, title="Lambda image build context" if image else "Lambda zip")


@app.command("gcp")
def gcp(
    out: OutOption,
    target: TargetOption = None,
    agent: OldAgentOption = None,
    agent_dir: AgentDirOption = Path("."),
    requirements: RequirementsOption = None,
) -> None:
    """Cloud Functions gen2 source zip: main.py, our packages, your agent and a pinned requirements.txt."""
    runner = _target(target, agent)
    result = _run(lambda: build_gcp(agent=runner, out_dir=out, agent_dir=agent_dir, requirements=requirements))
    _summarise(result, title="Cloud Functions source zip")


def _target(target: str | None, agent: str | None) -> AgentTarget:
    if target is not None and agent is not None:
        raise typer.BadParameter("give --target only (--agent is its old spelling)")
    if agent is not None:
        _console.print("[yellow]note: --agent is deprecated; use --target (the same value).")
    spec = target if target is not None else agent
    if spec is None:
        raise typer.BadParameter("missing option --target (your runner as package.module:attr)")
    return AgentTarget.parse(spec)


def _run(build: Callable[[], BuildResult]) -> BuildResult:
    try:
        return build()
    except BuildError as exc:
        _console.print(f"[red]build failed:[/red] {exc}")
        raise typer.Exit(code=1) from exc


def _summarise(result: BuildResult, *, title: str) -> None:
    render(result.report, console=_console, title=title)
    _console.print(f"{result.artifact}  sha256={result.sha256}")
    _console.print(f"RUNNER_TARGET={result.manifest['runner_target']}")
