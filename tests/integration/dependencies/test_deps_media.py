"""Each media dependency against each item type the emulator serves (real SDK, real media, real HTTP)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator, Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from encord_emulator.testing import RunningEmulator, run_emulator
from runner_core.dependencies import (
    dep_asset,
    dep_client,
    dep_frame,
    dep_single_frame,
    dep_storage_item,
    dep_video_iterator,
    dep_video_sampler,
    frame_count,
)
from runner_core.di import Depends, analyze, solve
from runner_core.errors import PermanentError
from runner_core.media.errors import FrameNotFoundError
from runner_core.media.settings import MediaSettings
from tests.integration.dependencies.deps_env import (
    children_pixels,
    decode_png,
    decode_video,
    fetch,
    files_under,
    item_of,
    media_settings_for,
    scopes,
    seed,
)

T = TypeVar("T")


@pytest.fixture(scope="module")
def emu() -> Iterator[RunningEmulator]:
    with run_emulator(seed()) as running:
        yield running


@pytest.fixture
def media(tmp_path: Path) -> MediaSettings:
    return media_settings_for(tmp_path)


@contextmanager
def entered(generator: Generator[T, None, None]) -> Iterator[T]:
    """Run a generator dependency the way the solver does: value at `yield`, teardown on exit."""
    with contextmanager(lambda: generator)() as value:
        yield value


def test_client_and_storage_item_pass_through(emu: RunningEmulator, media: MediaSettings) -> None:
    scope = scopes(emu.client(), media)["photo.png"]
    assert dep_client(scope.batch.client) is scope.batch.client
    assert dep_storage_item(item_of(scope)) is item_of(scope)


def test_single_frame_of_every_item_type(emu: RunningEmulator, media: MediaSettings) -> None:
    task_scopes = scopes(emu.client(), media)
    expected = {
        "photo.png": decode_png(fetch(item_of(task_scopes["photo.png"]).get_signed_url() or "")),
        "clip.mp4": decode_video(fetch(item_of(task_scopes["clip.mp4"]).get_signed_url() or ""))[0],
        "group": children_pixels(item_of(task_scopes["group"]))[0],
        "sequence": decode_video(fetch(item_of(task_scopes["sequence"]).get_signed_url() or ""))[0],
    }
    for title, scope in task_scopes.items():
        frame = dep_single_frame(item_of(scope), scope)
        assert frame.dtype == np.uint8, title
        assert frame.shape == (48, 64, 3), title
        assert np.array_equal(frame, expected[title]), title
    assert files_under(media.temp_root()) == []  # each download was gone before the function returned


def test_stills_are_decoded_from_memory_unless_declared_large(emu: RunningEmulator, media: MediaSettings) -> None:
    """Images and image-group members never touch the disk; over `in_memory_max_bytes` they go through a file."""
    assert media.temp_dir is not None
    for title in ("photo.png", "group"):
        scope = scopes(emu.client(), media)[title]
        in_memory = dep_single_frame(item_of(scope), scope)
        assert not media.temp_dir.exists(), title  # not even the temp root was created
        on_disk_settings = media.model_copy(update={"in_memory_max_bytes": 0})
        scope.batch.media = on_disk_settings
        on_disk = dep_single_frame(item_of(scope), scope)
        assert media.temp_dir.exists(), title
        assert files_under(media.temp_root()) == [], title
        assert np.array_equal(in_memory, on_disk), title
        media.temp_dir.rmdir()


def test_frame_k_of_every_multi_frame_type(emu: RunningEmulator, media: MediaSettings) -> None:
    task_scopes = scopes(emu.client(), media)
    video = decode_video(fetch(item_of(task_scopes["clip.mp4"]).get_signed_url() or ""))
    sequence = decode_video(fetch(item_of(task_scopes["sequence"]).get_signed_url() or ""))
    group = children_pixels(item_of(task_scopes["group"]))
    for index in (1, 16, 29, 44):
        scope = task_scopes["clip.mp4"]
        assert np.array_equal(dep_frame(index)(item_of(scope), scope), video[index]), index
    scope = task_scopes["sequence"]
    assert np.array_equal(dep_frame(3)(item_of(scope), scope), sequence[3])
    scope = task_scopes["group"]
    assert np.array_equal(dep_frame(2)(item_of(scope), scope), group[2])
    with pytest.raises(FrameNotFoundError, match=r"frame 3 does not exist \(3 frames\)"):
        dep_frame(3)(item_of(scope), scope)
    scope = task_scopes["photo.png"]
    with pytest.raises(FrameNotFoundError, match="an image has only frame 0"):
        dep_frame(1)(item_of(scope), scope)
    with pytest.raises(ValueError, match="must be >= 0"):
        dep_frame(-1)


def test_video_frame_k_reads_a_fraction_of_the_file(emu: RunningEmulator, media: MediaSettings) -> None:
    """The video path does not download: only Range requests, fewer bytes than the file (see bench for big files)."""
    scope = scopes(emu.client(), media)["clip.mp4"]
    emu.reset_counters()
    dep_frame(40)(item_of(scope), scope)
    entries = [e for e in emu.app.log.snapshot()["entries"] if e["path"].startswith("/files/")]
    assert entries, "the frame was read from the emulator's media route"
    assert {e["status"] for e in entries} == {206}  # every read was a Range request, never the whole file


def test_video_iterator(emu: RunningEmulator, media: MediaSettings) -> None:
    task_scopes = scopes(emu.client(), media)
    for title in ("clip.mp4", "sequence"):
        scope = task_scopes[title]
        truth = decode_video(fetch(item_of(scope).get_signed_url() or ""))
        with entered(dep_video_iterator(item_of(scope), scope)) as frames:
            assert len(files_under(media.temp_root())) == 2  # the task's dir and the video in it
            decoded = list(frames)
        assert [frame.frame for frame in decoded] == list(range(len(truth)))
        assert all(np.array_equal(f.content, t) for f, t in zip(decoded, truth, strict=True))
        assert files_under(media.temp_root()) == []
    for title in ("photo.png", "group"):
        scope = task_scopes[title]
        with pytest.raises(
            NotImplementedError, match=r"dep_video_iterator supports video items .* not (image|imageGroup) "
        ):
            dep_video_iterator(item_of(scope), scope).__next__()


def test_video_sampler(emu: RunningEmulator, media: MediaSettings) -> None:
    task_scopes = scopes(emu.client(), media)
    scope = task_scopes["clip.mp4"]
    truth = decode_video(fetch(item_of(scope).get_signed_url() or ""))
    with entered(dep_video_sampler(item_of(scope), scope)) as sampler:
        by_rate = list(sampler(1 / 15))
        by_index = list(sampler([44, 7]))
        for bad in (0, 1.5, -1):
            with pytest.raises(ValueError, match=r"sampling rate must be in \(0, 1\]"):
                sampler(bad)
    assert [f.frame for f in by_rate] == [0, 15, 30]
    assert [f.frame for f in by_index] == [7, 44]
    assert all(np.array_equal(f.content, truth[f.frame]) for f in by_rate + by_index)
    assert files_under(media.temp_root()) == []
    sequence = task_scopes["sequence"]  # stored as a video: sampled like one
    sequence_truth = decode_video(fetch(item_of(sequence).get_signed_url() or ""))
    with entered(dep_video_sampler(item_of(sequence), sequence)) as sampler:
        sampled = list(sampler(0.5))
    assert [f.frame for f in sampled] == [0, 2]
    assert all(np.array_equal(f.content, sequence_truth[f.frame]) for f in sampled)
    for title in ("photo.png", "group"):
        other = task_scopes[title]
        with pytest.raises(NotImplementedError, match="dep_video_sampler supports video items"):
            dep_video_sampler(item_of(other), other).__next__()


def test_sampler_rate_needs_a_known_frame_count(emu: RunningEmulator, media: MediaSettings) -> None:
    scope = scopes(emu.client(), media)["clip.mp4"]
    item = item_of(scope)
    assert frame_count(item) == 45
    item._orm_item = item._orm_item.model_copy(update={"frame_count": None, "duration": None})
    with entered(dep_video_sampler(item, scope)) as sampler:
        with pytest.raises(ValueError, match=r"frame count of video 'clip.mp4' .* is unknown"):
            sampler(0.5)
        assert [f.frame for f in sampler([2])] == [2]


def test_asset(emu: RunningEmulator, media: MediaSettings) -> None:
    task_scopes = scopes(emu.client(), media)
    for title, suffix in (("photo.png", ".png"), ("clip.mp4", ".mp4"), ("sequence", ".mp4")):
        scope = task_scopes[title]
        original = fetch(item_of(scope).get_signed_url() or "")
        with entered(dep_asset(item_of(scope), scope)) as path:
            assert path.suffix == suffix
            assert path.read_bytes() == original
            assert path.is_relative_to(media.temp_root())
        assert not path.exists()
    scope = task_scopes["group"]
    with pytest.raises(ValueError, match="dep_asset: items of type 'imageGroup' have no single asset") as caught:
        dep_asset(item_of(scope), scope).__next__()
    assert isinstance(caught.value, PermanentError)
    assert files_under(media.temp_root()) == []


def test_asset_is_removed_when_the_agent_raises(emu: RunningEmulator, media: MediaSettings) -> None:
    scope = scopes(emu.client(), media)["clip.mp4"]
    seen: list[Path] = []

    def agent_scope_that_raises() -> None:
        with ExitStack() as stack:
            seen.append(stack.enter_context(entered(dep_asset(item_of(scope), scope))))
            stack.enter_context(entered(dep_video_iterator(item_of(scope), scope)))
            raise RuntimeError("agent failed")

    with pytest.raises(RuntimeError, match="agent failed"):
        agent_scope_that_raises()
    assert len(seen) == 1
    assert not seen[0].exists()
    assert files_under(media.temp_root()) == []


def test_expired_signed_urls_are_re_signed_once(media: MediaSettings) -> None:
    with run_emulator(seed(), signed_url_ttl_s=1) as short_lived:
        task_scopes = scopes(short_lived.client(), media)
        time.sleep(2.1)  # every pre-signed URL has expired now
        short_lived.reset_counters()
        for title in ("photo.png", "clip.mp4", "group"):
            scope = task_scopes[title]
            frame: Any = dep_single_frame(item_of(scope), scope)
            assert frame.shape == (48, 64, 3)
        resigned = short_lived.requests("GET /v2/public/storage/items/")
        assert resigned == 2  # photo and clip; the group's children were listed fresh (signed now)


def test_dep_frame_through_the_solver(emu: RunningEmulator, media: MediaSettings) -> None:
    """`Depends(dep_frame(k))` is analysed and solved like any dependency (closure annotations resolve)."""
    scope = scopes(emu.client(), media)["clip.mp4"]
    truth = decode_video(fetch(item_of(scope).get_signed_url() or ""))
    tenth = dep_frame(10)

    def agent(frame: Any = Depends(tenth), first: Any = Depends(dep_single_frame)) -> None:
        pass

    async def run() -> dict[str, Any]:
        async with AsyncExitStack() as stack:
            return await solve(analyze(agent, agent=True), stack=stack, scope=scope)

    kwargs = asyncio.run(run())
    assert np.array_equal(kwargs["frame"], truth[10])
    assert np.array_equal(kwargs["first"], truth[0])


def test_media_faults_from_the_emulator_are_retried(emu: RunningEmulator, media: MediaSettings) -> None:
    """503s and dropped connections on the media route (not the API) are absorbed by retries."""
    task_scopes = scopes(emu.client(), media)
    patient = media.model_copy(update={"download_retries": 8})
    emu.set_faults(rate_503=0.3, drop_rate=0.2, retry_after_s=0, seed=4, path_prefix="/files")
    try:
        emu.reset_counters()
        for title, scope in task_scopes.items():
            scope.batch.media = patient
            frame = dep_frame(1 if title != "photo.png" else 0)(item_of(scope), scope)
            assert frame.shape == (48, 64, 3), title
        faulted = [e for e in emu.app.log.snapshot()["entries"] if e["fault"]]
    finally:
        emu.set_faults()
    assert faulted, "the fault injection hit some media requests"
