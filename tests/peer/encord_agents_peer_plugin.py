"""pytest plugin loaded (`-p encord_agents_peer_plugin`) into encord-agents' own test run, never into ours.

It starts our emulator with `peer_seed.yaml` before their conftest is imported, hands them its key through the
variables their conftest reads (`ENCORD_SSH_KEY_FILE`), points the SDK's default domain and encord-agents'
`ENCORD_DOMAIN` at it, keeps every connection on loopback, marks the failures listed in `expected_failures.yaml`
as strict xfails, and writes each test's outcome to the JSON file named by `PEER_RESULTS`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

HERE = Path(__file__).resolve().parent
SEED = HERE / "peer_seed.yaml"
EXPECTED_FAILURES = HERE / "expected_failures.yaml"
_REAL_DOMAIN = "https://api.encord.com"

_stack = ExitStack()
_outcomes: dict[str, str] = {}
# Every emulator answer that says "not implemented", by route: none may reach encord-agents.
_not_implemented: dict[str, int] = {}


def expected_failures() -> dict[str, str]:
    """node id (relative to their sdist root) -> why it fails for a reason of encord-agents' own."""
    raw = yaml.safe_load(EXPECTED_FAILURES.read_text(encoding="utf-8")) or {}
    return {str(entry["test"]): str(entry["reason"]) for entry in raw.get("expected_failures", [])}


def _point_sdk_at(url: str) -> None:
    """Replace the SDK's default domain in every function default that carries it.

    The domain is a default argument bound at import (`create_with_ssh_private_key(domain=ENCORD_DOMAIN)`), so
    setting `encord.configs.ENCORD_DOMAIN` would change nothing; their fixtures call the SDK without a domain.
    """
    import encord.configs
    import encord.user_client

    owners: list[Any] = [encord.configs, encord.user_client, encord.user_client.EncordUserClient]
    owners += [value for value in vars(encord.configs).values() if isinstance(value, type)]
    for owner in owners:
        for value in vars(owner).values():
            function = getattr(value, "__func__", value)
            defaults = getattr(function, "__defaults__", None)
            if defaults and _REAL_DOMAIN in defaults:
                function.__defaults__ = tuple(url if d == _REAL_DOMAIN else d for d in defaults)
            kwdefaults = getattr(function, "__kwdefaults__", None)
            if kwdefaults and _REAL_DOMAIN in kwdefaults.values():
                function.__kwdefaults__ = {k: url if d == _REAL_DOMAIN else d for k, d in kwdefaults.items()}
    encord.configs.ENCORD_DOMAIN = url


def _loopback_only() -> None:
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        host = str(address[0]) if isinstance(address, tuple) else "localhost"  # AF_UNIX paths are local
        if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
            raise ConnectionRefusedError(f"the peer suite may only reach the emulator, not {address!r}")
        real_connect(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign,assignment]


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    # Before their conftest runs: it reads the key from the environment at import time.
    from encord_emulator.observability import RequestRecord
    from encord_emulator.testing import run_emulator

    _loopback_only()
    emulator = _stack.enter_context(run_emulator(SEED))
    log_record = emulator.app.log.record

    def record(entry: RequestRecord) -> None:
        if entry.status == 501:
            _not_implemented[entry.route] = _not_implemented.get(entry.route, 0) + 1
        log_record(entry)

    emulator.app.log.record = record  # type: ignore[method-assign,assignment]
    os.environ.pop("ENCORD_SSH_KEY", None)
    os.environ["ENCORD_SSH_KEY_FILE"] = str(emulator.key_file)
    os.environ["ENCORD_DOMAIN"] = emulator.url
    _point_sdk_at(emulator.url)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    expected = expected_failures()
    for item in items:
        reason = expected.get(item.nodeid)
        if reason is not None:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or report.outcome != "passed":
        xfail = hasattr(report, "wasxfail")
        outcome = ("xfailed" if report.skipped else "xpassed") if xfail else report.outcome
        # A later phase's failure (teardown) overrides an earlier pass.
        if _outcomes.get(report.nodeid) in (None, "passed") or outcome == "failed":
            _outcomes[report.nodeid] = outcome


def pytest_unconfigure(config: pytest.Config) -> None:
    target = os.environ.get("PEER_RESULTS")
    if target:
        results = {"outcomes": _outcomes, "not_implemented": _not_implemented}
        Path(target).write_text(json.dumps(results, indent=1, sort_keys=True), encoding="utf-8")
    _stack.close()
