"""Small pure parts: byte ranges, fault decisions, URL signing, the request log, the media cache, CLI keys."""

from __future__ import annotations

import os
from pathlib import Path
from uuid import UUID

import av
import pytest

from encord_emulator.auth import generate_private_key, public_hex_of
from encord_emulator.cli import _load_or_create_key
from encord_emulator.faults import Fault, FaultInjector, FaultSettings
from encord_emulator.media import generate_image, generate_video, probe_video
from encord_emulator.observability import RequestLog, RequestRecord
from encord_emulator.seed import GenerateParams
from encord_emulator.server import _parse_range
from encord_emulator.signing import UrlSigner


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", (0, 9)),
        ("bytes=90-", (90, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-500", (0, 99)),
        ("bytes=50-500", (50, 99)),
        ("bytes=100-", None),
        ("bytes=9-3", None),
        ("bytes=-0", None),
        ("items=0-1", None),
        ("bytes=0-1,5-6", None),
    ],
)
def test_byte_ranges(header: str, expected: tuple[int, int] | None) -> None:
    assert _parse_range(header, 100) == expected


def test_faults_are_reproducible_with_a_seed_and_respect_rates() -> None:
    settings = FaultSettings(rate_429=0.3, rate_503=0.2, seed=42, latency_ms=5, latency_jitter_ms=5)
    runs = []
    for _ in range(2):
        injector = FaultInjector(settings)
        runs.append([injector.decide("/v2/x") for _ in range(50)])
    assert runs[0] == runs[1]
    injector = FaultInjector(settings)
    decisions = [injector.decide("/v2/x") for _ in range(2000)]
    share_429 = sum(d.fault is Fault.RATE_LIMIT for d in decisions) / 2000
    share_503 = sum(d.fault is Fault.UNAVAILABLE for d in decisions) / 2000
    assert 0.25 < share_429 < 0.35
    assert 0.15 < share_503 < 0.25
    assert all(0.0 <= d.delay_s <= 0.010 for d in decisions)
    assert decisions[0].retry_after_s == 1
    narrowed = FaultInjector(FaultSettings(rate_503=1.0, path_prefix="/files"))
    assert narrowed.decide("/v2/public/x").fault is Fault.NONE
    assert narrowed.decide("/files/a").fault is Fault.UNAVAILABLE


def test_signed_urls_expire_and_bind_the_item() -> None:
    signer = UrlSigner(ttl_s=60, secret=b"k" * 32)
    url = signer.sign(base_url="http://h", item_uuid=UUID(int=1), name="a b.png", now=1000.0)
    query = dict(part.split("=") for part in url.split("?")[1].split("&"))
    assert url.startswith("http://h/files/00000000-0000-0000-0000-000000000001/a%20b.png?")
    assert query["expires"] == "1060"
    assert signer.check(item_uuid="00000000-0000-0000-0000-000000000001", **_q(query)) == "signed URL expired"
    fresh = signer.sign(base_url="http://h", item_uuid=UUID(int=1), name="a")
    fresh_query = dict(part.split("=") for part in fresh.split("?")[1].split("&"))
    assert signer.check(item_uuid="00000000-0000-0000-0000-000000000001", **_q(fresh_query)) is None
    assert signer.check(item_uuid="00000000-0000-0000-0000-000000000002", **_q(fresh_query)) is not None
    assert signer.check(item_uuid="x", expires=None, signature=None) == "missing signature"


def _q(query: dict[str, str]) -> dict[str, str]:
    return {"expires": query["expires"], "signature": query["sig"]}


def test_request_log_counts_by_path_and_route() -> None:
    log = RequestLog(max_entries=2)
    for path, route, kind in [
        ("/v2/public/projects/p", "GET /v2/public/projects/{project}", "api"),
        ("/public", "POST /public labelrow.PUT", "api"),
        ("/files/a", "GET /files/{item}", "media"),
    ]:
        log.record(RequestRecord(kind, "GET", path, route, 200, 1.0, 0.0))  # type: ignore[arg-type]
    assert log.count() == 2
    assert log.count("/files") == 1
    assert log.count("POST /public") == 1
    assert log.count("/v2/public") == 1
    assert len(log.snapshot()["entries"]) == 2  # bounded, counters are not
    log.reset()
    assert log.counters() == {}


def test_generated_media_is_cached_by_parameters(tmp_path: Path) -> None:
    params = GenerateParams(width=64, height=48, frames=12, fps=6, keyframe_interval=4)
    video = generate_video(params, cache_dir=tmp_path)
    stamp = video.path.stat().st_mtime_ns
    again = generate_video(params, cache_dir=tmp_path)
    assert again.path == video.path
    assert again.path.stat().st_mtime_ns == stamp
    other = generate_video(params.model_copy(update={"fps": 12.0}), cache_dir=tmp_path)
    assert other.path != video.path
    probed = probe_video(video.path)
    assert (probed.width, probed.height, probed.frames, probed.fps) == (64, 48, 12, 6.0)
    with av.open(str(video.path)) as container:
        keyframes = sum(1 for packet in container.demux(video=0) if packet.is_keyframe)
    assert keyframes == 3
    bright = generate_image(GenerateParams(width=8, height=8, brightness="bright"), cache_dir=tmp_path)
    assert bright.path.read_bytes()[:4] == b"\x89PNG"
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")]


def test_cli_key_file_is_created_once_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "key.pem"
    created = _load_or_create_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert _load_or_create_key(path) == created
    existing = generate_private_key()
    path.write_text(existing)
    assert public_hex_of(_load_or_create_key(path)) == public_hex_of(existing)
