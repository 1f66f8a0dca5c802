"""`runner-core emulator serve`: the emulator as a process, for local development and the local stack."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from encord_emulator.auth import generate_private_key, public_hex_of
from encord_emulator.errors import EmulatorError
from encord_emulator.faults import FaultSettings
from encord_emulator.server import EmulatorServer
from encord_emulator.testing import DEMO_SEED, create_app, write_private_key
from runner_core.cli_app import typer_app

app = typer_app(name="emulator", no_args_is_help=True, help="A local Encord API for tests and development.")


@app.callback()
def _group() -> None:
    """A local Encord API for tests and development."""


def _load_or_create_key(path: Path) -> str:
    if path.exists():
        key = path.read_text(encoding="ascii")
        public_hex_of(key)  # fails loudly on a file that is not an OpenSSH Ed25519 key
        return key
    key = generate_private_key()
    write_private_key(path, key)
    return key


@app.command()
def serve(
    seed: Annotated[Path, typer.Option(help="Seed YAML (format: encord_emulator/README.md).")] = DEMO_SEED,
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")] = 0,
    key_out: Annotated[
        Path, typer.Option("--key-out", help="Private key file the emulator accepts (created when absent).")
    ] = Path("emulator-key.pem"),
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    verify_signatures: Annotated[bool, typer.Option(help="Check request signatures.")] = True,
    latency_ms: Annotated[float, typer.Option(help="Injected latency per request.")] = 0.0,
    rate_429: Annotated[float, typer.Option(help="Fraction of requests answered 429.")] = 0.0,
    rate_503: Annotated[float, typer.Option(help="Fraction of requests answered 503.")] = 0.0,
) -> None:
    """Serve the --seed project until SIGTERM/SIGINT; prints `ready <url>` once accepting requests."""
    try:
        key = _load_or_create_key(key_out)
        faults = FaultSettings(latency_ms=latency_ms, rate_429=rate_429, rate_503=rate_503)
        emulator_app = create_app(
            seed, verify_signatures=verify_signatures, extra_public_keys=(public_hex_of(key),), faults=faults
        )
        server = EmulatorServer(emulator_app, host=host, port=port)
    except (EmulatorError, OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    server.start()
    try:
        sys.stdout.write(f"ready {server.url}\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
