"""End-to-end fixtures: real moto_server and Pub/Sub emulator once per session; per test a fresh Encord emulator,
fresh queues / topics and the functions in the Lambda RIE and functions-framework.

Skips happen only when a preinstalled binary is absent: Java or the Pub/Sub emulator JAR (GCP tests), or the RIE
that `make install` fetches (AWS tests), each with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local import components
from deploy.local.errors import ComponentUnavailableError
from deploy.local.processes import ManagedProcess
from deploy.local.stack import Stack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


def _require_rie() -> None:
    try:
        components.find_rie()
    except ComponentUnavailableError as exc:
        pytest.skip(str(exc))


def _require_pubsub() -> None:
    try:
        components.find_java()
        components.find_pubsub_emulator_jar()
    except ComponentUnavailableError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def session_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-session-logs")


@pytest.fixture(scope="session")
def moto_url(session_logs: Path) -> Iterator[str]:
    with ManagedProcess(components.moto_server(), log_dir=session_logs) as moto:
        assert moto.url is not None
        yield moto.url


@pytest.fixture(scope="session")
def pubsub_url(session_logs: Path) -> Iterator[str]:
    _require_pubsub()
    with ManagedProcess(components.pubsub_emulator(), log_dir=session_logs) as emulator:
        assert emulator.url is not None
        yield emulator.url


@pytest.fixture
def aws_stack(tmp_path: Path, moto_url: str) -> Iterator[Stack]:
    _require_rie()
    with Stack(run_dir=tmp_path / "run", moto_url=moto_url) as stack:
        yield stack


@pytest.fixture
def gcp_stack(tmp_path: Path, pubsub_url: str) -> Iterator[Stack]:
    with Stack(run_dir=tmp_path / "run", pubsub_url=pubsub_url) as stack:
        yield stack


@pytest.fixture(params=["aws", "gcp"])
def cloud_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Stack]]:
    """Each test using it runs once per cloud path."""
    cloud = str(request.param)
    if cloud == "aws":
        _require_rie()
        url = request.getfixturevalue("moto_url")
        with Stack(run_dir=tmp_path / "run", moto_url=url) as stack:
            yield cloud, stack
    else:
        url = request.getfixturevalue("pubsub_url")
        with Stack(run_dir=tmp_path / "run", pubsub_url=url) as stack:
            yield cloud, stack
