"""Run an emulator inside a test (or any Python process) and drive the real SDK against it.

with run_emulator(Path("examples/demo/project.yaml")) as emu:
    project = emu.client().get_project(emu.project_hash)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

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
    keys, tokens = spec.auth.key_grants(), spec.auth.token_grants()
    authenticator = Authenticator.create(
        public_keys=[*(key for key, projects in keys if projects is None), *extra_public_keys],
        bearer_tokens=[token for token, projects in tokens if projects is None],
        verify=verify_signatures,
        restricted_keys=[(key, projects) for key, projects in keys if projects is not None],
        restricted_tokens=[(token, projects) for token, projects in tokens if projects is not None],
    )
    return EmulatorApp(state, authenticator, faults)


@dataclass
class RunningEmulator:
    url: str
    ssh_key: str
    key_file: Path
    app: EmulatorApp
    # Named extra keys (OpenSSH private key texts) from `run_emulator(extra_keys=...)` and `add_key(name=...)`.
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def state(self) -> EmulatorState:
        return self.app.state

    @property
    def project_hash(self) -> str:
        """The seed's first project (a seed of only datasets and templates has none: ValueError)."""
        first = next(iter(self.app.state.projects), None)
        if first is None:
            raise ValueError("the seed has no projects (create one with client().create_project)")
        return str(first)

    def client(self, **requests_settings: Any) -> EncordUserClient:
        """The real SDK client, pointed at this emulator; keyword arguments go to `RequestsSettings`."""
        return self._client_with(self.ssh_key, requests_settings)

    def client_for(self, name: str, **requests_settings: Any) -> EncordUserClient:
        """The real SDK client signing with the extra key `name` (see `run_emulator(extra_keys=...)`)."""
        try:
            key = self.keys[name]
        except KeyError:
            raise KeyError(f"no extra key named {name!r}; known: {sorted(self.keys)}") from None
        return self._client_with(key, requests_settings)

    def _client_with(self, ssh_key: str, requests_settings: dict[str, Any]) -> EncordUserClient:
        settings = RequestsSettings(**requests_settings) if requests_settings else RequestsSettings()
        return EncordUserClient.create_with_ssh_private_key(
            ssh_private_key=ssh_key, domain=self.url, requests_settings=settings
        )

    def add_key(self, name: str, *, projects: Iterable[str | UUID] | None = None) -> str:
        """Authorise a fresh key while serving, on every project or only on `projects`; its private key text.

        Requests for other projects then fail the way a missing permission does on Encord (the SDK raises
        `AuthorisationError`).
        """
        if isinstance(projects, str | UUID):  # one project given bare, not a string to iterate
            projects = [projects]
        allowed = None if projects is None else [UUID(str(project)) for project in projects]
        unknown = [str(project) for project in allowed or () if project not in self.app.state.projects]
        if unknown:
            raise ValueError(f"unknown projects {unknown}")
        key = generate_private_key()
        self.app.auth.authorise_key(public_hex_of(key), projects=allowed)
        self.keys[name] = key
        return key

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
    extra_keys: Mapping[str, Iterable[str | UUID] | None] | None = None,
) -> Iterator[RunningEmulator]:
    """Serve `seed` on 127.0.0.1:`port` (0: a free port) in a background thread, with a fresh authorised key.

    `extra_keys` maps names to the projects a further fresh key may use (None: all); their private key texts
    are in `RunningEmulator.keys` and `client_for(name)` signs with them.
    """
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
        running = RunningEmulator(url=server.url, ssh_key=ssh_key, key_file=key_file, app=app)
        try:
            for name, projects in (extra_keys or {}).items():
                running.add_key(name, projects=projects)
            server.start()
            yield running
        finally:
            server.shutdown()
