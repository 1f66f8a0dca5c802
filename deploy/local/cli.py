"""`runner-core local up|down|status|demo`: the whole system on real local emulators.

`up` starts the stack and returns, leaving every component running in its own session and recording PIDs, ports and
URLs in a state file; `down` stops exactly those sessions; `status` shows them; `demo` runs the example end to end.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Table

from deploy.local.errors import ComponentUnavailableError, LocalStackError, StateFileError
from deploy.local.processes import process_start_time, session_alive, stop_session
from deploy.local.pubsub import emulator_host
from deploy.local.seeds import DEMO_SEED
from deploy.local.stack import DEFAULT_TARGET, LEDGER_AWS_CONFIG, GcpPathConfig, Stack, new_run_dir

DEFAULT_STATE_FILE = Path(".runner-core") / "local" / "state.json"

app = typer.Typer(name="local", no_args_is_help=True, help="The whole system on real local emulators.")
console = Console()

StateOption = Annotated[Path, typer.Option("--state-file", help="Where `up` records what it started.")]


@app.callback()
def _group() -> None:
    """The whole system on real local emulators."""


def _write_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2) + "\n")


def _read_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        raise StateFileError(f"no local stack recorded in {path}: start one with `runner-core local up`") from None
    except ValueError as exc:
        raise StateFileError(f"{path} is not a state file written by `runner-core local up`: {exc}") from None
    if not isinstance(state, dict) or not _valid_components(state.get("components")):
        raise StateFileError(f"{path} is not a state file written by `runner-core local up`")
    return state


def _valid_components(components: object) -> bool:
    # A PID of 0, 1 or below would make a signal reach our own group, init or every process: refuse the file.
    return isinstance(components, list) and all(
        isinstance(c, dict) and isinstance(c.get("pid"), int) and c["pid"] > 1 and "name" in c for c in components
    )


ComponentState = Literal["running", "leftovers", "gone"]


def _component_state(component: dict[str, Any]) -> ComponentState:
    """Whether what `up` started still runs, judged by PID *and* start time so a recycled PID is never signalled.

    "leftovers": the session's leader is gone but processes it started remain in its session (e.g. a runtime whose
    RIE crashed). They are ours: the kernel does not reuse a session id while any member lives.
    """
    pid = int(component["pid"])
    leader_start = process_start_time(pid)
    if leader_start is not None:
        return "running" if leader_start == component.get("start_time") and session_alive(pid) else "gone"
    return "leftovers" if session_alive(pid) else "gone"


@app.command()
def up(
    seed: Annotated[Path, typer.Option(help="Emulator seed (the demo project by default).")] = DEMO_SEED,
    target: Annotated[str, typer.Option(help="The runner the functions load (RUNNER_TARGET).")] = DEFAULT_TARGET,
    aws: Annotated[bool, typer.Option(help="Start the AWS path (moto SQS + Lambda RIE).")] = True,
    gcp: Annotated[bool, typer.Option(help="Start the GCP path (Pub/Sub emulator + functions-framework).")] = True,
    state_file: StateOption = DEFAULT_STATE_FILE,
) -> None:
    """Start the emulators and deploy TARGET's consumer and producer functions on each path, then return."""
    if any(_component_state(c) != "gone" for c in _recorded_components(state_file)):
        console.print(f"[red]a local stack is already running ({state_file}); stop it with `runner-core local down`")
        raise typer.Exit(1)
    run_dir = new_run_dir()
    stack = Stack(run_dir=run_dir)
    paths: dict[str, Any] = {}
    try:
        with console.status("starting the Encord emulator"):
            encord = stack.encord_emulator(seed=seed)
        if aws:
            with console.status("AWS path: moto_server, SQS queues, Lambda RIE"):
                aws_path = stack.aws_path(
                    encord=encord, config=replace(LEDGER_AWS_CONFIG, target=target, delivery="process")
                )
                assert aws_path.queues is not None
                paths["aws"] = {
                    "queue_url": aws_path.queues.queue_url,
                    "dlq_url": aws_path.queues.dlq_url,
                    "dispatch_url": aws_path.start_dispatcher(),
                    "AWS_ENDPOINT_URL": stack.moto_url,
                    "RUNNER_LEDGER_TABLE": aws_path.ledger_table,
                }
        if gcp:
            try:
                with console.status("GCP path: Pub/Sub emulator, topics, functions-framework"):
                    gcp_path = stack.gcp_path(
                        encord=encord, config=GcpPathConfig(target=target, delivery="process", ledger=True)
                    )
                    assert gcp_path.resources is not None
                    paths["gcp"] = {
                        "topic": gcp_path.resources.topic,
                        "dead_letter_topic": gcp_path.resources.dead_letter_topic,
                        "dispatch_url": gcp_path.start_dispatcher(),
                        "PUBSUB_EMULATOR_HOST": emulator_host(stack.pubsub_url),
                        "FIRESTORE_EMULATOR_HOST": stack.firestore_url.removeprefix("http://").rstrip("/"),
                        "RUNNER_LEDGER_COLLECTION": gcp_path.function_env["RUNNER_LEDGER_COLLECTION"],
                    }
            except ComponentUnavailableError as exc:
                console.print(f"[yellow]GCP path skipped: {exc}")
    except (LocalStackError, OSError) as exc:
        stack.close()
        console.print(f"[red]could not start the local stack: {exc}")
        raise typer.Exit(1) from exc
    except BaseException:
        stack.close()  # a bug or Ctrl-C: leave nothing running that no state file records
        raise
    state = {
        "run_dir": str(run_dir),
        "encord": {"ENCORD_DOMAIN": encord.url, "ENCORD_SSH_KEY_FILE": str(encord.key_file)},
        "paths": paths,
        "components": stack.describe(),
    }
    _write_state(state_file, state)
    # The stack object is dropped without closing it: the components live on in their own sessions until `down`.
    _print_components(state)
    _print_next_steps(state)


@app.command()
def down(state_file: StateOption = DEFAULT_STATE_FILE) -> None:
    """Stop exactly the processes `up` started (checked by PID and start time), newest first."""
    state = _state_or_exit(state_file, code=0)
    for component in reversed(state["components"]):
        condition = _component_state(component)
        if condition == "gone":
            console.print(f"[dim]{component['name']} (pid {component['pid']}) was not running")
            continue
        stop_session(int(component["pid"]), leader_alive=condition == "running")
        console.print(f"stopped {component['name']} (pid {component['pid']})")
    state_file.unlink()


@app.command()
def status(state_file: StateOption = DEFAULT_STATE_FILE) -> None:
    """Show what `up` started and whether it still runs."""
    state = _state_or_exit(state_file, code=1)
    _print_components(state)
    if not all(_component_state(c) == "running" for c in state["components"]):
        raise typer.Exit(1)


def _state_or_exit(path: Path, *, code: int) -> dict[str, Any]:
    try:
        return _read_state(path)
    except StateFileError as exc:
        console.print(f"[yellow]{exc}")
        raise typer.Exit(code) from exc


def _recorded_components(path: Path) -> list[dict[str, Any]]:
    """What an earlier `up` recorded; an unreadable file records nothing `up` could still check, so it is replaced."""
    if not path.exists():
        return []
    try:
        return list(_read_state(path)["components"])
    except StateFileError as exc:
        console.print(f"[yellow]{exc}; it will be replaced")
        return []


@app.command()
def demo(
    seed: Annotated[Path, typer.Option(help="Emulator seed (the demo project by default).")] = DEMO_SEED,
    timeout: Annotated[float, typer.Option(help="Seconds each path may take.")] = 180.0,
) -> None:
    """Run the example agent over the demo project through the AWS and the GCP path; summary + HTML report."""
    from deploy.local.demo import run_demo

    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    try:
        code = run_demo(seed=seed, console=console, timeout_s=timeout)
    except LocalStackError as exc:
        console.print(f"[red]demo failed: {exc}")
        raise typer.Exit(1) from exc
    raise typer.Exit(code)


def _print_components(state: dict[str, Any]) -> None:
    table = Table(title=f"local stack ({state['run_dir']})")
    for column in ("component", "pid", "state", "url", "log"):
        table.add_column(column)
    for component in state["components"]:
        running = {"running": "[green]running", "leftovers": "[red]leftovers", "gone": "[red]stopped"}[
            _component_state(component)
        ]
        table.add_row(component["name"], str(component["pid"]), running, component.get("url") or "-", component["log"])
    console.print(table)


def _print_next_steps(state: dict[str, Any]) -> None:
    encord = state["encord"]
    lines = [f"export ENCORD_DOMAIN={encord['ENCORD_DOMAIN']} ENCORD_SSH_KEY_FILE={encord['ENCORD_SSH_KEY_FILE']}"]
    if "aws" in state["paths"]:
        aws = state["paths"]["aws"]
        lines.append(f"# AWS: enqueue the waiting tasks (the schedule's call)\ncurl -s -d '{{}}' {aws['dispatch_url']}")
    if "gcp" in state["paths"]:
        gcp = state["paths"]["gcp"]
        lines.append(f"# GCP: the same through Pub/Sub\ncurl -s -H 'Content-Type: application/json' -d '{{}}' "
                     f"{gcp['dispatch_url']}")  # fmt: skip
    lines.append("runner-core local status   # what runs;   runner-core local down   # stop it all")
    console.print("\n".join(lines), highlight=False, soft_wrap=True)


if __name__ == "__main__":
    app()
