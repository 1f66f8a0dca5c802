"""The `runner-core` command: composes the command groups each package owns."""

from __future__ import annotations

import importlib
from typing import Any

import typer

from runner_core.cli_app import plain_help, typer_app

app = typer_app(name="runner-core", no_args_is_help=True, help="Run Encord task agents serverless, and locally.")


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"runner-core {version('runner-core')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Run Encord task agents serverless, and locally."""


# (group name, "module:attribute" of its typer app, help). Each package owns its commands; this module only mounts
# them, and imports each when the command line is built rather than at import, so `import deploy.cli` is cheap.
_GROUPS = (
    ("emulator", "encord_emulator.cli:app", "A local Encord API for tests and development."),
    ("local", "deploy.local.cli:app", "The whole system on real local emulators."),
    ("build", "deploy.build.cli:app", "Build deployable artifacts for AWS Lambda and Cloud Functions."),
    ("dlq", "deploy.ops.dlq:app", "A deployment's dead letters: list, show, redrive."),
)
# Single commands, mounted as commands (a one-command group would show a phantom COMMAND in its usage line).
_COMMANDS = (
    ("dispatch", "functions.cli:dispatch", "Enqueue the tasks waiting in the runner's agent stages."),
    ("status", "deploy.ops.status:status", "A deployment at a glance: waiting tasks, queue, dead letters."),
)


def _load(target: str) -> Any:
    module_name, attribute = target.split(":")
    return getattr(importlib.import_module(module_name), attribute)


def _mount() -> None:
    for name, target, help_text in _GROUPS:
        app.add_typer(_load(target), name=name, help=help_text)
    for name, target, help_text in _COMMANDS:
        app.command(name=name, help=help_text, no_args_is_help=True)(_load(target))


def main() -> None:
    _mount()
    command = typer.main.get_command(app)
    plain_help(command)  # groups mounted from other packages too: one help style everywhere
    command()
