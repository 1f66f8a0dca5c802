"""The `runner-core` command: composes the command groups each package owns."""

from __future__ import annotations

import typer

app = typer.Typer(name="runner-core", no_args_is_help=True, help="Run Encord task agents serverless, and locally.")


def _mount() -> None:
    # Imported here, not at module top, so `runner-core --help` stays fast and a group's
    # optional dependencies are only needed when that group exists.
    from encord_emulator.cli import app as emulator_app

    app.add_typer(emulator_app, name="emulator", help="A local Encord API for tests and development.")


def main() -> None:
    _mount()
    app()
