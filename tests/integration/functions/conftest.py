"""Real parts for the entrypoint tests: the Encord emulator, moto_server (SQS, Secrets Manager) over HTTP, and
Google's Pub/Sub emulator (Java), each on a free loopback port."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest
import requests

from deploy.local.components import find_java, find_pubsub_emulator_jar, firestore_emulator_argv
from deploy.local.errors import ComponentUnavailableError
from deploy.local.processes import free_port
from encord_emulator.testing import DEMO_SEED, RunningEmulator, run_emulator
from functions import target
from functions.publishers import pubsub as pubsub_publisher
from functions.webhook import replay_guard
from runner_core.client import clear_client_cache
from tests.integration.functions.fn_harness import FirestoreEmulator, Moto, PubSubEmulator, stop_process_group

TARGET = "tests.integration.functions.fn_agents:runner"  # fn_agents.TARGET; imported lazily below
DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _wait_http(url: str, *, timeout_s: float = 20.0, expect: str | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            response = requests.get(url, timeout=2)
            if expect is None or response.text.strip() == expect:
                return
        except requests.RequestException:  # refused or slow to answer: a server still starting, on a busy machine
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not become ready in {timeout_s} s")


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningEmulator]:
    """A fresh demo project, the functions pointed at it, and a fresh fn_agents runner as RUNNER_TARGET."""
    from tests.integration.functions import fn_agents

    with run_emulator(DEMO_SEED) as running:
        monkeypatch.setenv("ENCORD_SSH_KEY", running.ssh_key)
        monkeypatch.setenv("ENCORD_DOMAIN", running.url)
        monkeypatch.delenv("ENCORD_SSH_KEY_FILE", raising=False)
        monkeypatch.setenv("RUNNER_TARGET", TARGET)
        for name in ("RUNNER_DLQ_URL", "RUNNER_DEAD_LETTER_TOPIC", "RUNNER_PROJECT_ALLOWLIST", "RUNNER_MAX_ATTEMPTS"):
            monkeypatch.delenv(name, raising=False)
        clear_client_cache()
        target.clear_cache()
        replay_guard.clear()  # each test signs afresh; a signature a previous test used is not a replay here
        monkeypatch.setitem(target._loaded, TARGET, fn_agents.build_runner(running.project_hash))
        yield running
        target.clear_cache()
        clear_client_cache()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[Moto]:
    """moto's server over HTTP on its own port (ThreadedMotoServer: the same server as `moto_server`)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        _wait_http(f"http://127.0.0.1:{port}/moto-api/")
        yield Moto(url=f"http://127.0.0.1:{port}")
    finally:
        server.stop()


@pytest.fixture
def moto(moto_server: Moto, monkeypatch: pytest.MonkeyPatch) -> Moto:
    """moto, reset, with boto3 pointed at it through AWS_ENDPOINT_URL and dummy credentials."""
    moto_server.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    for name, value in DUMMY_AWS.items():
        monkeypatch.setenv(name, value)
    return moto_server


@pytest.fixture(scope="session")
def pubsub_server() -> Iterator[PubSubEmulator]:
    # The local stack's discovery: $PUBSUB_EMULATOR_JAR, the Debian package's files, then the gcloud SDK's copy.
    try:
        jar, java = find_pubsub_emulator_jar(), find_java()
    except ComponentUnavailableError as exc:
        pytest.skip(f"Pub/Sub emulator not available: {exc}")
    port = free_port()
    process = subprocess.Popen(
        [java, "-jar", str(jar), "--host=127.0.0.1", f"--port={port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, killed by PID below
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/", expect="Ok", timeout_s=30)
        yield PubSubEmulator(host=f"127.0.0.1:{port}")
    finally:
        stop_process_group(process, timeout_s=10)


@pytest.fixture
def pubsub(pubsub_server: PubSubEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[PubSubEmulator]:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_server.host)
    pubsub_publisher.reset_client()
    yield pubsub_server
    pubsub_publisher.reset_client()


@pytest.fixture(scope="session")
def firestore_server() -> Iterator[FirestoreEmulator]:
    """Google's Firestore emulator (Java), in its own process group, stopped by PID."""
    port = free_port()
    try:
        argv = firestore_emulator_argv(port)
    except ComponentUnavailableError as exc:
        pytest.skip(f"Firestore emulator not available: {exc}")
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_http(f"http://127.0.0.1:{port}/", expect="Ok", timeout_s=60)
        yield FirestoreEmulator(host=f"127.0.0.1:{port}")
    finally:
        stop_process_group(process, timeout_s=10)


@pytest.fixture
def firestore(firestore_server: FirestoreEmulator, monkeypatch: pytest.MonkeyPatch) -> FirestoreEmulator:
    """The emulator, the client pointed at it, a fresh project id (the emulator keeps data per project)."""
    from functions import ledgers

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_server.host)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", firestore_server.new_project())
    ledgers.clear_cache()
    return firestore_server


@pytest.fixture
def ledger_table(moto: Moto) -> str:
    """A DynamoDB table of the ledger's contract (string key `pk`) on moto, TTL on `expires_at`."""
    from functions import ledgers

    ledgers.clear_cache()
    return moto.create_ledger_table()
