"""Fetch the AWS Lambda Runtime Interface Emulator from the `aws-sam-cli` wheel on PyPI.

The RIE is a static Go binary that AWS ships inside the SAM CLI wheel; downloading that one wheel without its
dependencies and extracting the single file is the only offline-friendly source that works through a package registry.
Run it as `python -m deploy.local.rie fetch --dest .tools/aws-lambda-rie`.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated

import typer

from runner_core.cli_app import typer_app

SAM_CLI_VERSION = "1.170.0"
MEMBER = "samcli/local/rapid/aws-lambda-rie-x86_64"
DEFAULT_DEST = Path(".tools/aws-lambda-rie")


class RieFetchError(RuntimeError):
    """The RIE could not be fetched (no registry, no wheel, or the wheel lacks the binary)."""


def fetch_rie(*, dest: Path, version: str = SAM_CLI_VERSION, python: str = sys.executable) -> Path:
    """Put the RIE binary at `dest` (executable). Does nothing when it is already there."""
    if dest.is_file() and os.access(dest, os.X_OK):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rie-fetch-") as tmp:
        command = [
            python, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
            "--dest", tmp, f"aws-sam-cli=={version}",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise RieFetchError(
                f"pip could not download aws-sam-cli=={version} (is the package registry reachable?): "
                + " | ".join(detail)
            )
        wheels = sorted(Path(tmp).glob("aws_sam_cli-*.whl"))
        if not wheels:
            raise RieFetchError(f"pip finished but left no aws_sam_cli wheel in {tmp}")
        _extract(wheels[0], dest)
    return dest


def _extract(wheel: Path, dest: Path) -> None:
    partial = dest.with_name(dest.name + ".partial")
    with zipfile.ZipFile(wheel) as archive:
        try:
            info = archive.getinfo(MEMBER)
        except KeyError as exc:
            raise RieFetchError(f"{wheel.name} does not contain {MEMBER}") from exc
        with archive.open(info) as source, partial.open("wb") as target:
            while chunk := source.read(1 << 20):
                target.write(chunk)
    partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    # Rename last, so an interrupted fetch never leaves a half-written binary that looks installed.
    partial.replace(dest)


def default_rie_path() -> Path:
    """Where the Makefile puts the RIE, overridable with RUNNER_RIE_PATH."""
    configured = os.environ.get("RUNNER_RIE_PATH")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / DEFAULT_DEST


app = typer_app(no_args_is_help=True, help="The AWS Lambda runtime interface emulator.")


@app.command()
def fetch(
    dest: Annotated[Path, typer.Option(help="Where to put the binary.")] = DEFAULT_DEST,
    version: Annotated[str, typer.Option(help="aws-sam-cli version whose wheel holds the RIE.")] = SAM_CLI_VERSION,
) -> None:
    """Download the aws-sam-cli wheel (no dependencies) and extract the RIE binary to --dest."""
    try:
        path = fetch_rie(dest=dest, version=version)
    except RieFetchError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"RIE ready at {path}")


@app.callback()
def _group() -> None:
    """Keep `fetch` a sub-command even though it is the only one."""


if __name__ == "__main__":
    app()
