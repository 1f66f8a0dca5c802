"""The `runner-core` command line: one vocabulary, `--version`, and help that fits 80 and 200 columns."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.core import TyperCommand, TyperGroup

from deploy import cli
from runner_core.cli_app import plain_help

Command = TyperCommand | TyperGroup  # what typer builds from our apps


def _root() -> Command:
    cli._mount()
    command = typer.main.get_command(cli.app)
    plain_help(command)
    assert isinstance(command, TyperGroup)
    return command


def _commands(command: Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Command]]:
    yield path, command
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            if isinstance(sub, TyperCommand | TyperGroup) and not sub.hidden:
                yield from _commands(sub, (*path, name))


ROOT = _root()
COMMANDS = list(_commands(ROOT))


def _invoke(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run the command tree `runner-core` runs (deploy.cli.main) and return its exit code and output."""
    with pytest.raises(SystemExit) as done:
        ROOT.main(args, prog_name="runner-core")
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out + err


def test_every_group_and_command_is_covered() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"", "build aws", "build gcp", "dispatch", "local up", "local demo", "emulator serve"} <= names


@pytest.mark.parametrize("width", [80, 200])
@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "runner-core" for p, _ in COMMANDS])
def test_help_fits_the_terminal_and_names_every_option_in_full(
    path: tuple[str, ...],
    command: Command,
    width: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    code, text = _invoke([*path, "--help"], capsys)
    assert code == 0, text
    assert max(len(line) for line in text.splitlines()) <= width
    assert "…" not in text
    assert "<bool>" not in text
    for param in command.params:
        if param.param_type_name == "option" and not getattr(param, "hidden", False):
            for name in (*param.opts, *param.secondary_opts):
                assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text), f"{name} missing from {path} help"
    # Help that talks of an option as if it were positional (SEED, TARGET...) while the command takes no arguments.
    if not any(param.param_type_name == "argument" for param in command.params):
        summary = text.split("Options:")[0]
        assert not re.search(r"\b(SEED|TARGET|AGENT|QUEUE)\b", summary), summary


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _invoke(["--version"], capsys)
    assert code == 0
    assert re.fullmatch(r"runner-core \d+\.\d+\.\d+\S*\n", text)


def test_target_is_the_one_spelling_and_agent_still_works_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = _invoke(["build", "gcp", "--agent", "nope_pkg.mod:runner", "--out", str(tmp_path)], capsys)
    assert code == 1
    assert "note: --agent is deprecated; use --target (the same value)." in text
    assert "build failed" in text  # the old spelling reached the build
    code, text = _invoke(["build", "gcp", "--target", "nope_pkg.mod:runner", "--out", str(tmp_path)], capsys)
    assert code == 1
    assert "build failed" in text
    assert "deprecated" not in text
    code, text = _invoke(["build", "gcp", "--target", "a.b:c", "--agent", "a.b:c", "--out", str(tmp_path)], capsys)
    assert code == 2
    assert "give --target only (--agent is its old spelling)" in text
    code, text = _invoke(["build", "gcp", "--out", str(tmp_path)], capsys)
    assert code == 2
    assert "missing option --target" in text


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "runner-core" for p, _ in COMMANDS])
def test_the_runner_is_always_named_target(path: tuple[str, ...], command: Command) -> None:
    options = [p for p in command.params if p.param_type_name == "option" and not getattr(p, "hidden", False)]
    visible = {name for option in options for name in option.opts}
    assert "--agent" not in visible
    assert "--runner" not in visible
