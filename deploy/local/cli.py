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

from deploy.build.errors import AgentCheckError
from deploy.build.preflight import check_in_environment
from deploy.local.errors import ComponentUnavailableError, LocalStackError, StateFileError
from deploy.local.processes import process_start_time, session_alive, stop_session
from deploy.local.pubsub import DeliveryMode, emulator_host
from deploy.local.seeds import DEMO_SEED
from deploy.local.stack import DEFAULT_TARGET, LEDGER_AWS_CONFIG, GcpPathConfig, Stack, new_run_dir
from runner_core.cli_app import typer_app

DEFAULT_STATE_FILE = Path(".runner-core") / "local" / "state.json"

app = typer_app(name="local", no_args_is_help=True, help="The whole system on real local emulators.")
console = Console()

StateOption = Annotated[Path, typer.Option("--state-file", help="Where `up` records what it started.")]
GcpDeliveryOption = Annotated[
    str,
    typer.Option(
        "--gcp-delivery",
        help="push: functions.gcp.consume_http gets the push subscription's raw body (what the Terraform module "
        "deploys); cloudevent: functions.gcp.consume gets an Eventarc CloudEvent.",
    ),
]


def _push_format(value: str) -> DeliveryMode:
    if value == "push":
        return "push"
    if value == "cloudevent":
        return "cloudevent"
    raise typer.BadParameter(f"--gcp-delivery must be push or cloudevent, not {value!r}")


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
    gcp_delivery: GcpDeliveryOption = "push",
    reload: Annotated[
        bool,
        typer.Option(
            "--reload",
            help="Stay in the foreground and restart the functions when the agent's files change (Ctrl-C stops "
            "watching; the stack keeps running).",
        ),
    ] = False,
    state_file: StateOption = DEFAULT_STATE_FILE,
) -> None:
    """Start the emulators, deploy the --target runner as consumer and producer on each path, and return."""
    if any(_component_state(c) != "gone" for c in _recorded_components(state_file)):
        console.print(f"[red]a local stack is already running ({state_file}); stop it with `runner-core local down`")
        raise typer.Exit(1)
    _check_target(target)
    run_dir = new_run_dir()
    stack = Stack(run_dir=run_dir)
    paths: dict[str, Any] = {}
    # With --reload the agent's code changes under the stack: a task the previous code held (no pathway) must run
    # again on the next dispatch, not only after the ledger's production re-check interval (15 minutes).
    function_env = {"RUNNER_LEDGER_HELD_RECHECK_S": "0"} if reload else {}
    try:
        with console.status("starting the Encord emulator"):
            encord = stack.encord_emulator(seed=seed)
        if aws:
            with console.status("AWS path: moto_server, SQS queues, Lambda RIE"):
                aws_path = stack.aws_path(
                    encord=encord,
                    config=replace(LEDGER_AWS_CONFIG, target=target, delivery="process", extra_env=function_env),
                )
                assert aws_path.queues is not None
                paths["aws"] = {
                    "queue_url": aws_path.queues.queue_url,
                    "dlq_url": aws_path.queues.dlq_url,
                    "dispatch_url": aws_path.start_dispatcher(),
                    "AWS_ENDPOINT_URL": stack.moto_url,
                    "RUNNER_LEDGER_TABLE": aws_path.ledger_table,
                    "log_prefix": aws_path.log_prefix,  # what `local report` and `local watch` read
                }
        if gcp:
            try:
                with console.status("GCP path: Pub/Sub emulator, topics, functions-framework"):
                    config = GcpPathConfig(
                        target=target,
                        delivery="process",
                        push_format=_push_format(gcp_delivery),
                        ledger=True,
                        extra_env=function_env,
                    )
                    gcp_path = stack.gcp_path(encord=encord, config=config)
                    assert gcp_path.resources is not None
                    paths["gcp"] = {
                        "topic": gcp_path.resources.topic,
                        "dead_letter_topic": gcp_path.resources.dead_letter_topic,
                        # What `runner-core dlq` reads (--pubsub-dead-letter-subscription).
                        "dead_letter_subscription": gcp_path.resources.dead_letter_subscription,
                        "dispatch_url": gcp_path.start_dispatcher(),
                        "PUBSUB_EMULATOR_HOST": emulator_host(stack.pubsub_url),
                        "FIRESTORE_EMULATOR_HOST": stack.firestore_url.removeprefix("http://").rstrip("/"),
                        "RUNNER_LEDGER_COLLECTION": gcp_path.function_env["RUNNER_LEDGER_COLLECTION"],
                        "log_prefix": gcp_path.log_prefix,
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
    if reload:
        _reload_until_interrupted(stack, state=state, state_file=state_file, target=target)


def _reload_until_interrupted(stack: Stack, *, state: dict[str, Any], state_file: Path, target: str) -> None:
    from deploy.local.components import python_env
    from deploy.local.reload import Restart, agent_sources, watch_and_reload

    search_path = python_env()["PYTHONPATH"].split(os.pathsep)
    try:
        files = agent_sources(target, search_path=search_path)
    except LocalStackError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from exc
    console.print(f"reload: watching {len(files)} file(s) of {target}; Ctrl-C stops watching", highlight=False)

    def reloaded(restart: Restart) -> None:
        state["components"] = stack.describe()  # new PIDs: `down` must stop these, not the old ones
        _write_state(state_file, state)
        names = ", ".join(path.name for path in restart.changed)
        line = f"reloaded: {names} changed; restarted {', '.join(restart.restarted) or 'nothing'}"
        console.print(line, highlight=False, soft_wrap=True)
        for failure in restart.failed:
            console.print(f"[red]not restarted: {failure}; save a fix to try again", highlight=False, soft_wrap=True)

    watch_and_reload(stack, sources=lambda: agent_sources(target, search_path=search_path), on_reload=reloaded)
    console.print("reload: stopped watching; the stack keeps running (`runner-core local down` stops it)")


def _check_target(target: str) -> None:
    """Load TARGET as the local functions will (this interpreter, this folder) before starting anything."""
    try:
        check_in_environment(target, env=os.environ, cwd=Path.cwd())
    except AgentCheckError as exc:
        console.print(f"[red]the agent cannot load, nothing was started:[/red] {exc}")
        raise typer.Exit(1) from exc


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
    target: Annotated[str, typer.Option(help="The runner to deploy (RUNNER_TARGET).")] = DEFAULT_TARGET,
    aws: Annotated[bool, typer.Option(help="Run the AWS path (moto SQS + Lambda RIE).")] = True,
    gcp: Annotated[bool, typer.Option(help="Run the GCP path (Pub/Sub emulator + functions-framework).")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds each path may take.")] = 180.0,
    gcp_delivery: GcpDeliveryOption = "push",
) -> None:
    """Run the --target agent (the example one by default) over --seed through each path; summary + HTML report."""
    from deploy.local.demo import run_demo

    clouds = [name for name, wanted in (("aws", aws), ("gcp", gcp)) if wanted]
    if not clouds:
        raise typer.BadParameter("--no-aws and --no-gcp leave no path to run")
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    try:
        code = run_demo(
            seed=seed,
            console=console,
            timeout_s=timeout,
            target=target,
            clouds=clouds,
            gcp_push_format=_push_format(gcp_delivery),
        )
    except LocalStackError as exc:
        console.print(f"[red]demo failed: {exc}")
        raise typer.Exit(1) from exc
    raise typer.Exit(code)


@app.command()
def report(
    out: Annotated[Path | None, typer.Option(help="Where to write the page [default: <run dir>/report.html].")] = None,
    thumbnails: Annotated[bool, typer.Option(help="Decode each data unit's frame for a thumbnail.")] = True,
    state_file: StateOption = DEFAULT_STATE_FILE,
) -> None:
    """Write the HTML run report of the stack `up` started: every task each path processed, failures first."""
    from deploy.local.encord import EmulatorControl
    from deploy.local.report import path_section
    from deploy.local.stack import EncordAccess
    from runner_core.report import write_report

    state = _state_or_exit(state_file, code=1)
    encord = EncordAccess(url=state["encord"]["ENCORD_DOMAIN"], key_file=Path(state["encord"]["ENCORD_SSH_KEY_FILE"]))
    run_dir = Path(state["run_dir"])
    try:
        projects = [str(p["project_hash"]) for p in EmulatorControl(encord.url).state()["projects"]]
        sections = [
            path_section(
                name=name,
                encord=encord,
                project_hash=project,
                log_dir=run_dir / "logs",
                log_prefix=str(path["log_prefix"]),
                thumbnails=thumbnails,
            )
            for name, path in state["paths"].items()
            for project in projects
        ]
    except OSError as exc:  # requests' errors are OSErrors: the emulator is not answering
        console.print(f"[red]cannot read the local stack: {exc}; is it running (`runner-core local status`)?")
        raise typer.Exit(1) from exc
    page = write_report(
        out or run_dir / "report.html", [s for s in sections if s.records], title="runner-core local run"
    )
    console.print(f"report: {page}", highlight=False, soft_wrap=True)


@app.command()
def watch(
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between refreshes.")] = 1.0,
    once: Annotated[bool, typer.Option("--once", help="Print one snapshot and exit.")] = False,
    state_file: StateOption = DEFAULT_STATE_FILE,
) -> None:
    """Live view of the stack `up` started: tasks per stage, queue depth, in flight, dead letters, latest outcomes."""
    from deploy.local.watch import watch as run_watch

    run_watch(_state_or_exit(state_file, code=1), console=console, interval_s=interval, once=once)


def _print_components(state: dict[str, Any]) -> None:
    # URLs fold rather than end in "…" (a person copies them); the logs, all in one folder, are named once below
    # instead of in a column that pushed the table past 80 columns.
    folders = {str(Path(c["log"]).parent) for c in state["components"]}
    table = Table(title="local stack")
    for column in ("component", "pid", "state"):
        table.add_column(column, no_wrap=True)
    table.add_column("url", overflow="fold")
    if len(folders) > 1:
        table.add_column("log", overflow="fold")
    for component in state["components"]:
        running = {"running": "[green]running", "leftovers": "[red]leftovers", "gone": "[red]stopped"}[
            _component_state(component)
        ]
        row = [component["name"], str(component["pid"]), running, component.get("url") or "-"]
        table.add_row(*row, *([component["log"]] if len(folders) > 1 else []))
    console.print(table)
    logs = f"; logs: {folders.pop()}/<component>.log" if len(folders) == 1 else ""
    console.print(f"run: {state['run_dir']}{logs}", highlight=False, soft_wrap=True)


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
