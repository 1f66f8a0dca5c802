"""Fixtures shared by the media tests: fast settings, a scripted local file server and the generated media files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runner_core.media.settings import MediaSettings
from tests.unit.media.media_testkit import FileServer, MediaFiles, fast_settings, make_media_files


@pytest.fixture(scope="session")
def media_files(tmp_path_factory: pytest.TempPathFactory) -> MediaFiles:
    return make_media_files(tmp_path_factory)


@pytest.fixture
def settings(tmp_path: Path) -> MediaSettings:
    return fast_settings(tmp_path)


@pytest.fixture
def server() -> Iterator[FileServer]:
    with FileServer() as running:
        yield running
