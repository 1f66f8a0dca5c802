"""RangeReader: a remote file as a seekable stream of bounded Range requests."""

from __future__ import annotations

import io
import os

import pytest

from runner_core.media.errors import AssetRejectedError, DownloadError
from runner_core.media.remote import RangeNotSupportedError, RangeReader
from runner_core.media.settings import MediaSettings
from tests.unit.media.media_testkit import Fault, FileServer

DATA = os.urandom(1_000_000)
BLOCK = 64 * 1024


def test_reads_and_seeks_like_a_file(server: FileServer, settings: MediaSettings) -> None:
    url = server.add("/f.bin", DATA)
    with RangeReader(url, settings=settings, name="f") as reader:
        assert reader.size == len(DATA)
        assert reader.read(10) == DATA[:10]
        reader.seek(-100, io.SEEK_END)
        assert reader.read() == DATA[-100:]
        reader.seek(500_000)
        assert reader.read(200_000) == DATA[500_000:700_000]
        assert reader.read(0) == b""
        reader.seek(len(DATA) + 5)
        assert reader.read(10) == b""


def test_fetches_only_what_is_read(server: FileServer, settings: MediaSettings) -> None:
    url = server.add("/f.bin", DATA)
    with RangeReader(url, settings=settings, name="f") as reader:
        reader.seek(900_000)
        reader.read(1000)
        reader.seek(10)
        reader.read(1000)  # still cached from the first block
        assert reader.requests == 2
        assert reader.bytes_fetched == 2 * BLOCK
    assert all(
        header is not None and header.endswith(str(int(header.split("=")[1].split("-")[0]) + BLOCK - 1))
        for _, header, _ in server.requests
    )


def test_sequential_reads_grow_the_request_size(server: FileServer, settings: MediaSettings) -> None:
    url = server.add("/f.bin", DATA)
    with RangeReader(url, settings=settings, name="f") as reader:
        assert reader.read() == DATA
        # 64 KiB, then 128, 256, 512 KiB...: far fewer than the 16 requests of fixed 64 KiB blocks
        assert reader.requests <= 5


def test_a_server_without_range_support_is_reported(server: FileServer, settings: MediaSettings) -> None:
    url = server.add("/f.bin", DATA, ignore_range=True)
    with pytest.raises(RangeNotSupportedError):
        RangeReader(url, settings=settings, name="f")


def test_transient_failures_are_retried_per_request(server: FileServer, settings: MediaSettings) -> None:
    url = server.add("/f.bin", DATA, faults=[Fault(), Fault(status=503), Fault(reset_after=100)])
    with RangeReader(url, settings=settings, name="f") as reader:
        reader.seek(600_000)
        assert reader.read(10) == DATA[600_000:600_010]
    assert [status for _, _, status in server.requests] == [206, 503, 206, 206]


def test_re_signs_once_per_reader(server: FileServer, settings: MediaSettings) -> None:
    url = server.add("/f.bin", DATA, valid_tokens={"b"})
    calls: list[str] = []

    def resign() -> str:
        calls.append("x")
        return url + "?sig=b"

    with RangeReader(url + "?sig=a", settings=settings, name="f", resign=resign) as reader:
        reader.seek(700_000)
        assert reader.read(5) == DATA[700_000:700_005]
        server.files["/f.bin"].valid_tokens = {"c"}  # the fresh URL expires too
        reader.seek(100_000)
        with pytest.raises(AssetRejectedError, match="HTTP 403"):
            reader.read(5)
    assert calls == ["x"]


def test_gives_up_after_retries(server: FileServer, settings: MediaSettings) -> None:
    url = server.add("/f.bin", DATA, faults=[Fault(status=500)] * 5)
    with pytest.raises(DownloadError, match="gave up after 3 attempts"):
        RangeReader(url, settings=settings, name="f")
