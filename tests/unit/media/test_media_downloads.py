"""Streaming downloads against a real local HTTP server with scripted faults."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from runner_core.errors import PermanentError, RetryableError
from runner_core.media.downloads import MediaSession, _large_download_slot, download, fetch_bytes
from runner_core.media.errors import AssetRejectedError, AssetTooLargeError, DownloadError
from runner_core.media.settings import MediaSettings
from tests.unit.media.media_testkit import Fault, FileServer

PAYLOAD = os.urandom(300_000)


def test_streams_the_whole_body(server: FileServer, settings: MediaSettings, tmp_path: Path) -> None:
    url = server.add("/a.bin", PAYLOAD)
    written = download(url, tmp_path / "a.bin", settings=settings, name="a")
    assert written == len(PAYLOAD)
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD


def test_fetch_into_memory_retries_resumes_and_caps(server: FileServer, settings: MediaSettings) -> None:
    url = server.add("/m.bin", PAYLOAD, faults=[Fault(status=503), Fault(reset_after=100_000)])
    assert fetch_bytes(url, settings=settings, name="m") == PAYLOAD
    assert server.count("/m.bin") == 3
    capped = settings.model_copy(update={"download_max_bytes": 1000})
    with pytest.raises(AssetTooLargeError):
        fetch_bytes(server.add("/big.bin", PAYLOAD), settings=capped, name="big")


def test_downloads_to_disk_wait_for_a_free_slot(server: FileServer, settings: MediaSettings, tmp_path: Path) -> None:
    """With every `max_large_downloads` slot taken, a download to disk does not start; in-memory fetches do."""
    bounded = settings.model_copy(update={"max_large_downloads": 1})
    url = server.add("/big.bin", PAYLOAD)
    with _large_download_slot(bounded):  # someone else's large download
        waiting = threading.Thread(
            target=download, args=(url, tmp_path / "big.bin"), kwargs={"settings": bounded, "name": "big"}
        )
        waiting.start()
        waiting.join(timeout=0.3)
        assert waiting.is_alive()
        assert server.count("/big.bin") == 0
        assert fetch_bytes(url, settings=bounded, name="small") == PAYLOAD  # memory fetches are not bounded here
    waiting.join(timeout=30)
    assert (tmp_path / "big.bin").read_bytes() == PAYLOAD


def test_media_session_reads_proxy_settings_from_the_environment(
    server: FileServer, settings: MediaSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read once per origin, but read: a proxy in the environment is used, `no_proxy` still bypasses it."""
    url = server.add("/a.bin", PAYLOAD)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # discard port: nothing listens
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    with pytest.raises(DownloadError):
        download(url, tmp_path / "a.bin", settings=settings, name="a", session=MediaSession())
    assert server.count("/a.bin") == 0
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    session = MediaSession()
    for _ in range(2):
        download(url, tmp_path / "a.bin", settings=settings, name="a", session=session)
    assert server.count("/a.bin") == 2


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_retries_transient_statuses(server: FileServer, settings: MediaSettings, tmp_path: Path, status: int) -> None:
    url = server.add("/a.bin", PAYLOAD, faults=[Fault(status=status), Fault(status=status)])
    download(url, tmp_path / "a.bin", settings=settings, name="a")
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD
    assert server.count("/a.bin") == 3


def test_429_honours_retry_after(server: FileServer, settings: MediaSettings, tmp_path: Path) -> None:
    url = server.add("/a.bin", PAYLOAD, faults=[Fault(status=429, headers={"Retry-After": "0.3"})])
    started = time.monotonic()
    download(url, tmp_path / "a.bin", settings=settings, name="a")
    assert time.monotonic() - started >= 0.3
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD


def test_gives_up_after_the_configured_retries(server: FileServer, settings: MediaSettings, tmp_path: Path) -> None:
    url = server.add("/a.bin", PAYLOAD, faults=[Fault(status=503)] * 10)
    with pytest.raises(DownloadError, match=r"HTTP 503 \(gave up after 3 attempts\)") as caught:
        download(url, tmp_path / "a.bin", settings=settings, name="item 'a'")
    assert isinstance(caught.value, RetryableError)
    assert server.count("/a.bin") == settings.download_retries + 1


def test_a_reset_mid_body_resumes_with_a_range_request(
    server: FileServer, settings: MediaSettings, tmp_path: Path
) -> None:
    url = server.add("/a.bin", PAYLOAD, faults=[Fault(reset_after=100_000)])
    download(url, tmp_path / "a.bin", settings=settings, name="a")
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD
    ranges = [range_header for path, range_header, _ in server.requests if path == "/a.bin"]
    assert ranges[0] is None
    assert ranges[1] is not None
    assert ranges[1].startswith("bytes=")
    assert int(ranges[1].removeprefix("bytes=").rstrip("-")) > 0


def test_a_read_timeout_is_retried_then_reported(server: FileServer, tmp_path: Path) -> None:
    settings = MediaSettings(temp_dir=tmp_path, download_timeout_s=0.2, download_retries=1, download_backoff_s=0.01)
    url = server.add("/slow.bin", PAYLOAD, faults=[Fault(delay_s=1.0), Fault(delay_s=1.0)])
    started = time.monotonic()
    with pytest.raises(DownloadError, match="timed out"):
        download(url, tmp_path / "slow.bin", settings=settings, name="slow")
    assert time.monotonic() - started < 1.5  # two attempts of ~0.2 s each, not two full delays


def test_size_cap_from_content_length_stops_before_the_body(
    server: FileServer, settings: MediaSettings, tmp_path: Path
) -> None:
    capped = settings.model_copy(update={"download_max_bytes": 100_000})
    url = server.add("/big.bin", PAYLOAD)
    with pytest.raises(AssetTooLargeError, match=r"over the download limit of 100000 bytes") as caught:
        download(url, tmp_path / "big.bin", settings=capped, name="big")
    assert isinstance(caught.value, PermanentError)
    assert "RUNNER_DOWNLOAD_MAX_BYTES" in str(caught.value)
    assert server.count("/big.bin") == 1  # never retried


def test_size_cap_without_content_length_counts_bytes(
    server: FileServer, settings: MediaSettings, tmp_path: Path
) -> None:
    capped = settings.model_copy(update={"download_max_bytes": 100_000})
    url = server.add("/big.bin", PAYLOAD, faults=[Fault(no_length=True)])
    with pytest.raises(AssetTooLargeError):
        download(url, tmp_path / "big.bin", settings=capped, name="big")
    assert (tmp_path / "big.bin").stat().st_size <= 100_000


def test_a_rejected_signed_url_is_re_signed_once(server: FileServer, settings: MediaSettings, tmp_path: Path) -> None:
    url = server.add("/s.bin", PAYLOAD, valid_tokens={"fresh"})
    calls: list[int] = []

    def resign() -> str:
        calls.append(1)
        return url + "?sig=fresh"

    download(url + "?sig=expired", tmp_path / "s.bin", settings=settings, name="s", resign=resign)
    assert (tmp_path / "s.bin").read_bytes() == PAYLOAD
    assert calls == [1]


def test_still_rejected_after_re_signing_is_permanent(
    server: FileServer, settings: MediaSettings, tmp_path: Path
) -> None:
    url = server.add("/s.bin", PAYLOAD, valid_tokens={"fresh"})
    with pytest.raises(AssetRejectedError, match=r"HTTP 403\) even after re-signing") as caught:
        download(url + "?sig=old", tmp_path / "s.bin", settings=settings, name="s", resign=lambda: url + "?sig=old2")
    assert "sig=" not in str(caught.value)  # signatures never leak into errors
    assert server.count("/s.bin") == 2


def test_not_found_is_permanent_and_not_retried(server: FileServer, settings: MediaSettings, tmp_path: Path) -> None:
    with pytest.raises(AssetRejectedError, match="HTTP 404"):
        download(server.base_url + "/missing?sig=x", tmp_path / "m.bin", settings=settings, name="m")
    assert server.count("/missing") == 1


def test_connection_refused_is_retryable(settings: MediaSettings, tmp_path: Path) -> None:
    with FileServer() as server:
        url = server.base_url + "/gone"
    with pytest.raises(DownloadError, match="connection failed"):
        download(url, tmp_path / "gone.bin", settings=settings, name="gone")
