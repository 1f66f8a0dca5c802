"""Video iteration in order, sampling by rate and by index, and per-task temp dirs."""

from __future__ import annotations

import base64
import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from runner_core.media.settings import MediaSettings
from runner_core.media.temp import TEMP_PREFIX, sweep_stale, task_temp_dir
from runner_core.media.video import Frame, FrameBuffers, VideoSampler, iter_video, sample_indices
from tests.unit.media.media_testkit import MediaFiles, decode_all, pattern_frame


def test_iterates_every_frame_in_order(media_files: MediaFiles, settings: MediaSettings) -> None:
    truth = decode_all(media_files.video)
    frames = list(iter_video(media_files.video, settings=settings, name="clip"))
    assert [frame.frame for frame in frames] == list(range(len(truth)))
    assert all(np.array_equal(frame.content, expected) for frame, expected in zip(frames, truth, strict=True))


def test_frames_dropped_one_by_one_are_still_exact(media_files: MediaFiles, settings: MediaSettings) -> None:
    """The usual loop (each frame dropped before the next) reuses buffers; every frame still has its own pixels."""
    truth = decode_all(media_files.video)
    seen_buffers: set[int] = set()
    count = 0
    for frame in iter_video(media_files.video, settings=settings, name="clip"):
        assert np.array_equal(frame.content, truth[frame.frame])
        seen_buffers.add(frame.content.__array_interface__["data"][0])
        count += 1
    assert count == len(truth)
    assert len(seen_buffers) < count  # buffers were recycled


def test_frame_buffers_never_reuse_an_array_someone_holds() -> None:
    pool = FrameBuffers(spares=2)
    first = pool.hold(np.full((2, 2, 3), 1, dtype=np.uint8))
    view = first[0]  # a view keeps its base array referenced
    second = pool.hold(np.full((2, 2, 3), 2, dtype=np.uint8))
    third = pool.hold(np.full((2, 2, 3), 3, dtype=np.uint8))  # both pooled arrays held: a fresh array
    assert int(view[0, 0]) == 1
    assert int(second[0, 0, 0]) == 2
    assert int(third[0, 0, 0]) == 3
    del view, first
    fourth = pool.hold(np.full((2, 2, 3), 4, dtype=np.uint8))  # the first array is free again: reused
    assert int(fourth[0, 0, 0]) == 4
    assert int(second[0, 0, 0]) == 2


@pytest.mark.parametrize(
    ("rate", "count", "expected"),
    [(1, 4, [0, 1, 2, 3]), (0.5, 5, [0, 2, 4]), (1 / 3, 10, [0, 3, 6, 9]), (0.1, 31, [0, 10, 20, 30])],
)
def test_sample_indices(rate: float, count: int, expected: list[int]) -> None:
    assert sample_indices(rate, count) == expected


@pytest.mark.parametrize("rate", [0, -0.5, 1.01, 2])
def test_sampler_rejects_rates_outside_zero_one(media_files: MediaFiles, settings: MediaSettings, rate: float) -> None:
    sampler = VideoSampler(media_files.video, frame_count=lambda: 90, settings=settings, name="clip")
    with pytest.raises(ValueError, match=r"sampling rate must be in \(0, 1\]"):
        sampler(rate)


def test_sampler_by_rate_matches_full_decode(media_files: MediaFiles, settings: MediaSettings) -> None:
    truth = decode_all(media_files.video)
    sampler = VideoSampler(media_files.video, frame_count=lambda: 90, settings=settings, name="clip")
    frames = list(sampler(1 / 20))
    assert [frame.frame for frame in frames] == [0, 20, 40, 60, 80]
    assert all(np.array_equal(frame.content, truth[frame.frame]) for frame in frames)


def test_sampler_by_indices_sorts_and_drops_past_the_end(media_files: MediaFiles, settings: MediaSettings) -> None:
    truth = decode_all(media_files.video)
    sampler = VideoSampler(media_files.video, frame_count=lambda: 90, settings=settings, name="clip")
    frames = list(sampler([88, 3, 4, 4, 61, 200]))
    assert [frame.frame for frame in frames] == [3, 4, 4, 61, 88]
    assert all(np.array_equal(frame.content, truth[frame.frame]) for frame in frames)


def test_sampler_rate_needs_a_frame_count(media_files: MediaFiles, settings: MediaSettings) -> None:
    def unknown() -> int:
        raise ValueError("the frame count of clip is unknown")

    sampler = VideoSampler(media_files.video, frame_count=unknown, settings=settings, name="clip")
    with pytest.raises(ValueError, match="frame count of clip is unknown"):
        sampler(0.5)
    assert [frame.frame for frame in sampler([1])] == [1]  # explicit indices need no count


def test_temp_dirs_are_private_and_removed_on_error(settings: MediaSettings) -> None:
    with task_temp_dir(settings) as first, task_temp_dir(settings) as second:
        assert first != second
        (first / "x").write_bytes(b"1")
    leaked: list[Path] = []

    def failing_task() -> None:
        with task_temp_dir(settings) as third:
            leaked.append(third)
            (third / "y").write_bytes(b"1")
            raise RuntimeError("agent failed")

    with pytest.raises(RuntimeError, match="agent failed"):
        failing_task()
    root = settings.temp_root()
    assert list(root.iterdir()) == []
    assert not leaked[0].exists()


def test_frame_b64_encodings_decode_back_to_the_pixels() -> None:
    content = pattern_frame(7, 64, 48)
    frame = Frame(frame=7, content=content)
    png = base64.b64decode(str(frame.b64_encoding(".png", "raw")))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), content)
    url = frame.b64_encoding(".jpeg", "url")
    assert isinstance(url, str)
    assert url.startswith("data:image/jpeg;base64,")
    jpeg = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))
    assert np.abs(jpeg.astype(int) - content.astype(int)).mean() < 4
    assert frame.b64_encoding(".png", "openai") == {
        "type": "image_url",
        "image_url": {"url": frame.b64_encoding(".png")},
    }
    anthropic = frame.b64_encoding(".jpg", "anthropic")
    assert isinstance(anthropic, dict)
    assert anthropic["source"]["media_type"] == "image/jpeg"
    with pytest.raises(ValueError, match="image_format must be one of"):
        frame.b64_encoding(".gif", "raw")  # type: ignore[arg-type]


def test_stale_temp_dirs_of_killed_processes_are_swept(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    stale, fresh, foreign = root / f"{TEMP_PREFIX}old", root / f"{TEMP_PREFIX}new", root / "someone-elses"
    for directory in (stale, fresh, foreign):
        directory.mkdir()
        (directory / "asset.bin").write_bytes(b"x")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    os.utime(foreign, (old, old))
    assert sweep_stale(root, force=True) == 1
    assert sorted(p.name for p in root.iterdir()) == sorted([fresh.name, foreign.name])
    assert sweep_stale(root) == 0  # once per process and root
