"""How every runner-core command line is built: plain help that fits the terminal, errors on one line.

typer's rich help panels cut option names at 80 columns (`--from-site-pac…`) and print a `<bool>` metavar for
every flag; its rich error box wraps a one-line error over several. Click's own formatter wraps text to the
terminal's width and never truncates an option, so every `typer.Typer` of ours turns rich formatting off here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

# typer reads this attribute from each click command it built; None means "click's plain formatting".
PLAIN = None


def typer_app(**settings: Any) -> typer.Typer:
    """`typer.Typer(**settings)` with plain help and errors, and without pretty tracebacks (they print locals)."""
    import typer

    return typer.Typer(rich_markup_mode=PLAIN, pretty_exceptions_enable=False, **settings)


def plain_help(command: object) -> None:
    """Turn rich formatting off on `command` (what `typer.main.get_command` built) and every subcommand below it.

    Typed `object`: typer >= 0.20 builds commands of its own vendored click, older ones of click itself.
    """
    setattr(command, "rich_markup_mode", PLAIN)  # noqa: B010  # an attribute of typer's commands, not in click's
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)
