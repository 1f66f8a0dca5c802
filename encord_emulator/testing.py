"""Run an emulator inside a test (or any Python process) and drive the real SDK against it.

with run_emulator(Path("examples/demo/project.yaml")) as emu:
    project = emu.client().get_project(emu.project_hash)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from encord.http.constants import RequestsSettings
from encord.user_client import EncordUserClient

from encord_emulator.auth import Authenticator, generate_private_key, public_hex_of
from encord_emulator.faults import FaultSettings
from encord_emulator.media import default_cache_dir
from encord_emulator.seed import load_seed
from encord_emulator.server import EmulatorApp, EmulatorServer
from encord_emulator.state import EmulatorState

DEMO_SEED = Path(__file__).resolve().parent.parent / "examples" / "demo" / "project.yaml"


def create_app(
    seed: Path | str | dict[str, Any],
    *,
    verify_signatures: bool = True,
    extra_public_keys: tuple[str, ...] = (),
    faults: FaultSettings | None = None,
    cache_dir: Path | None = None,
    signed_url_ttl_s: float | None = None,
) -> EmulatorApp:
    """The emulator's state, authenticator and faults for a seed (no socket yet)."""
    spec, root = load_seed(seed)
    if signed_url_ttl_s is not None:
        spec = spec.model_copy(
            update={"settings": spec.settings.model_copy(update={"signed_url_ttl_s": signed_url_ttl_s})}
        )
    state = EmulatorState(spec, root=root, cache_dir=cache_dir or default_cache_dir())
    authenticator = Authenticator.create(
        public_keys=[*spec.auth.public_keys, *extra_public_keys],
        bearer_tokens=spec.auth.bearer_tokens,
        verify=verify_signatures,
    )
    return EmulatorApp(state, authenticator, faults)


@dataclass
class RunningEmulator:
    url: str
    ssh_key: str
    key_file: Path
    app: EmulatorApp

    @property
    def state(self) -> EmulatorState:
        return self.app.state

    @property
    def project_hash(self) -> str:
        """The seed's first project."""
        return str(next(iter(self.app.state.projects)))

    def client(self, **requests_settings: Any) -> EncordUserClient:
        """The real SDK client, pointed at this emulator; keyword arguments go to `RequestsSettings`."""
        settings = RequestsSettings(**requests_settings) if requests_settings else RequestsSettings()
        return EncordUserClient.create_with_ssh_private_key(
            ssh_private_key=self.ssh_key, domain=self.url, requests_settings=settings
        )

    def requests(self, prefix: str | None = None) -> int:
        """API requests served; a prefix selects by path ("/v2/public/storage", "/files") or route name
        ("POST /public labelrow.PUT", "GET /v2/public/projects/{project}")."""
        return self.app.log.count(prefix)

    def request_counters(self) -> dict[str, int]:
        return self.app.log.counters()

    def reset_counters(self) -> None:
        self.app.log.reset()

    def reset_state(self) -> None:
        self.app.state.reset()

    def set_faults(
        self,
        *,
        rate_429: float = 0.0,
        rate_503: float = 0.0,
        drop_rate: float = 0.0,
        latency_ms: float = 0,
        latency_jitter_ms: float = 0,
        seed: int | None = None,
        retry_after_s: int = 1,
        path_prefix: str | None = None,
    ) -> None:
        self.app.faults.configure(
            FaultSettings(
                rate_429=rate_429,
                rate_503=rate_503,
                drop_rate=drop_rate,
                latency_ms=latency_ms,
                latency_jitter_ms=latency_jitter_ms,
                seed=seed,
                retry_after_s=retry_after_s,
                path_prefix=path_prefix,
            )
        )


def write_private_key(path: Path, key_text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key_text)


@contextmanager
def run_emulator(
    seed: Path | str | dict[str, Any] = DEMO_SEED,
    *,
    port: int = 0,
    verify_signatures: bool = True,
    faults: FaultSettings | None = None,
    cache_dir: Path | None = None,
    signed_url_ttl_s: float | None = None,
) -> Iterator[RunningEmulator]:
    """Serve `seed` on 127.0.0.1:`port` (0: a free port) in a background thread, with a fresh authorised key."""
    ssh_key = generate_private_key()
    app = create_app(
        seed,
        verify_signatures=verify_signatures,
        extra_public_keys=(public_hex_of(ssh_key),),
        faults=faults,
        cache_dir=cache_dir,
        signed_url_ttl_s=signed_url_ttl_s,
    )
    server = EmulatorServer(app, host="127.0.0.1", port=port)
    with tempfile.TemporaryDirectory(prefix="encord-emulator-") as key_dir:
        key_file = Path(key_dir) / "emulator-key"
        write_private_key(key_file, ssh_key)
        server.start()
        try:
            yield RunningEmulator(url=server.url, ssh_key=ssh_key, key_file=key_file, app=app)
        finally:
            server.shutdown()
