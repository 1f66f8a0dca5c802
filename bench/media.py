"""Media dependencies, runner-core vs encord-agents 0.2.10 (with OpenCV), on one emulator in one run.

(a) a batch of 50 image tasks whose agent takes `dep_single_frame`, 20 ms latency per request (API and media);
(b) the middle frame of a 60 s 1280x720 h264 video: bytes the media server sent, and time;
(c) iterating every frame of that video vs a 5 s one: peak RSS growth, each in its own subprocess.
The videos (textured, ~4.8 Mbit/s, keyframe every 2 s, moov at the end as PyAV writes it) are encoded once and
cached under ~/.cache/runner-core/bench. Run: `python -m bench media`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import av
import numpy as np
from encord.workflow.stages.agent import AgentStage
from encord_agents.core.data_model import FrameData
from encord_agents.core.dependencies import Depends as TheirDepends
from encord_agents.core.dependencies.serverless import dep_single_frame as their_frame_of
from encord_agents.tasks import QueueRunner as TheirQueueRunner
from encord_agents.tasks.dependencies import dep_single_frame as their_single_frame
from numpy.typing import NDArray

from encord_emulator import server as emulator_server
from encord_emulator.testing import RunningEmulator, run_emulator
from runner_core import Depends, QueueMessage, QueueRunner
from runner_core.context import BatchScope, TaskScope
from runner_core.dependencies import dep_frame, dep_single_frame, dep_video_iterator
from runner_core.media.settings import MediaSettings
from runner_core.messages import encode_envelope

PROJECT_HASH = "be4d0000-0000-4000-8000-000000000001"
STAGE = "pre-label"
IMAGES = 50
LATENCY_MS = 20
FPS = 30
LONG_S, SHORT_S = 60, 5
ITERATION_ROUNDS = 3
CACHE_DIR = Path.home() / ".cache" / "runner-core" / "bench"
ROOT = Path(__file__).resolve().parent.parent


# --- media --------------------------------------------------------------------------------------------------------


def bench_video(seconds: int) -> Path:
    """A 1280x720 h264 mp4 with camera-like bitrate (a scrolling texture), cached by its parameters."""
    path = CACHE_DIR / f"bench-720p-{seconds}s-v1.mp4"
    if path.exists():
        return path
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.mp4")
    width, height = 1280, 720
    texture = np.random.default_rng(7).integers(0, 256, (height, width + 2048, 3), dtype=np.uint8)
    texture = ((texture.astype(np.uint16) + np.roll(texture, 1, 1) + np.roll(texture, 1, 0)) // 3).astype(np.uint8)
    with av.open(str(partial), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(FPS))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = 4_000_000
        stream.codec_context.gop_size = 2 * FPS
        stream.codec_context.options = {"preset": "ultrafast", "sc_threshold": "0", "keyint_min": str(2 * FPS)}
        for index in range(seconds * FPS):
            x = (index * 3) % 2048
            image = np.ascontiguousarray(texture[:, x : x + width])
            image[40:140, 40:340] = (index * 37) % 256  # a per-frame marker
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    partial.rename(path)
    return path


def seed(long_video: Path, short_video: Path) -> dict[str, Any]:
    return {
        "version": 1,
        "projects": [
            {
                "project_hash": PROJECT_HASH,
                "title": "media benchmark",
                "ontology": {"classifications": [{"name": "seen", "type": "radio", "options": ["yes", "no"]}]},
                "stages": [
                    {"title": STAGE, "type": "agent", "pathways": {"done": "Done"}},
                    {"title": "videos", "type": "agent", "pathways": {"done": "Done"}},
                    {"title": "Done", "type": "done"},
                ],
                "data": [
                    {
                        "type": "image",
                        "title": "img-{i:03d}.png",
                        "count": IMAGES,
                        "generate": {"width": 640, "height": 480, "seed": 5},
                    },
                    {"type": "video", "title": "long.mp4", "path": str(long_video), "stage": "videos"},
                    {"type": "video", "title": "short.mp4", "path": str(short_video), "stage": "videos"},
                ],
            }
        ],
    }


# --- measuring ----------------------------------------------------------------------------------------------------


class ByteCounter:
    """Counts the media bytes the emulator writes to its sockets (wraps its copy loop; this process only)."""

    def __init__(self) -> None:
        self.sent = 0
        self._lock = threading.Lock()
        self._original = emulator_server._copy

    def install(self) -> None:
        counter = self

        class _Counting:
            def __init__(self, target: Any) -> None:
                self._target = target

            def write(self, data: bytes) -> Any:
                written = self._target.write(data)
                with counter._lock:
                    counter.sent += len(data)
                return written

        def counting_copy(source: Any, target: Any, length: int) -> None:
            counter._original(source, _Counting(target), length)

        emulator_server._copy = counting_copy

    def reset(self) -> None:
        with self._lock:
            self.sent = 0


@contextmanager
def agents_env(emu: RunningEmulator) -> Iterator[None]:
    """encord-agents reads its key and domain from the environment and caches its client."""
    from encord_agents.core.utils import get_user_client_from_settings

    saved = {name: os.environ.get(name) for name in ("ENCORD_SSH_KEY", "ENCORD_DOMAIN", "ENCORD_SSH_KEY_FILE")}
    os.environ["ENCORD_SSH_KEY"] = emu.ssh_key
    os.environ["ENCORD_DOMAIN"] = emu.url
    os.environ.pop("ENCORD_SSH_KEY_FILE", None)
    get_user_client_from_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_user_client_from_settings.cache_clear()


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def storage_item_of(client: Any, title: str, stage: str = "videos") -> Any:
    project = client.get_project(PROJECT_HASH)
    task = next(
        t for t in project.workflow.get_stage(name=stage, type_=AgentStage).get_tasks() if t.data_title == title
    )
    (row,) = project.list_label_rows_v2(data_hashes=[task.data_hash])
    return client.get_storage_item(row.backing_item_uuid, sign_url=True), project, task


def task_scope(client: Any, title: str) -> TaskScope:
    item, project, task = storage_item_of(client, title)
    stage = project.workflow.get_stage(name="videos", type_=AgentStage)
    batch = BatchScope(project=project, stage=stage, client=client, media=MediaSettings(), tasks=[task])
    return TaskScope(batch=batch, task=task, storage_item=item)


# --- (a) a batch of images ----------------------------------------------------------------------------------------


def batch_of_images(emu: RunningEmulator) -> dict[str, float]:
    client = emu.client()
    stage = client.get_project(PROJECT_HASH).workflow.get_stage(name=STAGE, type_=AgentStage)
    tasks = list(stage.get_tasks())
    assert len(tasks) == IMAGES
    shapes: list[tuple[int, ...]] = []

    ours = QueueRunner(PROJECT_HASH, user_client=client)

    @ours.stage(STAGE)
    def our_agent(frame: Annotated[NDArray[np.uint8], Depends(dep_single_frame)]) -> None:
        shapes.append(frame.shape)  # no pathway: the task stays, so both runners see the same batch

    def run_ours(batch: list[Any]) -> None:
        body = encode_envelope(project_hash=PROJECT_HASH, stage_uuid=stage.uuid, tasks=batch)
        (result,) = ours.process([QueueMessage(message_id="bench", body=body)])
        assert result.ok, result

    with agents_env(emu):
        theirs = TheirQueueRunner(project_hash=PROJECT_HASH)

        @theirs.stage(STAGE)
        def their_agent(frame: Annotated[NDArray[np.uint8], TheirDepends(their_single_frame)]) -> None:
            shapes.append(frame.shape)

        def run_theirs(batch: list[Any]) -> None:
            result = json.loads(their_agent([task.model_dump_json() for task in batch]))
            assert result["error"] is None, result["error"]

        run_ours(tasks[:1])  # warm: project and stage resolved, threads and connections up
        run_theirs(tasks[:1])
        emu.set_faults(latency_ms=LATENCY_MS)
        try:
            our_s = timed(lambda: run_ours(tasks))
            their_s = timed(lambda: run_theirs(tasks))
        finally:
            emu.set_faults()
    assert set(shapes) == {(480, 640, 3)}
    assert len(shapes) == 2 * IMAGES + 2
    return {"ours_s": our_s, "theirs_s": their_s}


# --- (b) the middle frame of a long video -------------------------------------------------------------------------


def middle_frame(emu: RunningEmulator, counter: ByteCounter, long_video: Path, middle: int) -> dict[str, float]:
    client = emu.client()
    ours_dep = dep_frame(middle)
    results: dict[str, list[float]] = {"ours_s": [], "theirs_s": [], "ours_bytes": [], "theirs_bytes": []}
    frames: dict[str, Any] = {}

    def ours() -> None:
        scope = task_scope(client, "long.mp4")
        counter.reset()
        started = time.perf_counter()
        assert scope.storage_item is not None
        frames["ours"] = ours_dep(scope.storage_item, scope)
        results["ours_s"].append(time.perf_counter() - started)
        results["ours_bytes"].append(counter.sent)

    def theirs() -> None:
        item, _, task = storage_item_of(client, "long.mp4")
        # encord-agents' single-frame dependency for frame k (the editor one; its task one only reads frame 0)
        frame_data = FrameData(projectHash=UUID(PROJECT_HASH), dataHash=task.data_hash, frame=middle)
        counter.reset()
        started = time.perf_counter()
        frames["theirs"] = their_frame_of(item, frame_data)
        results["theirs_s"].append(time.perf_counter() - started)
        results["theirs_bytes"].append(counter.sent)

    with agents_env(emu):
        for _ in range(3):
            ours()
            theirs()
    difference = float(np.abs(frames["ours"].astype(int) - frames["theirs"].astype(int)).mean())
    return {
        "file_bytes": float(long_video.stat().st_size),
        "ours_s": statistics.median(results["ours_s"]),
        "theirs_s": statistics.median(results["theirs_s"]),
        "ours_bytes": statistics.median(results["ours_bytes"]),
        "theirs_bytes": statistics.median(results["theirs_bytes"]),
        "mean_abs_pixel_difference": difference,
    }


# --- (c) iterating every frame, peak RSS in a subprocess ----------------------------------------------------------


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def child_iterate(url: str, key_file: str, title: str, implementation: str) -> None:
    """Subprocess body: iterate every frame of `title` and print frames, seconds and peak RSS growth (KiB)."""
    from encord.user_client import EncordUserClient

    client = EncordUserClient.create_with_ssh_private_key(ssh_private_key=Path(key_file).read_text(), domain=url)
    if implementation == "ours":
        scope = task_scope(client, title)
        assert scope.storage_item is not None
        item = scope.storage_item

        @contextmanager
        def frames() -> Iterator[Iterator[Any]]:
            generator = dep_video_iterator(item, scope)
            try:
                yield next(generator)
            finally:
                generator.close()
    else:
        from encord_agents.core.utils import download_asset
        from encord_agents.core.video import iter_video

        item, _, _ = storage_item_of(client, title)

        @contextmanager
        def frames() -> Iterator[Iterator[Any]]:
            with download_asset(item) as path:
                yield iter_video(path)

    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    before = _rss_kib("VmRSS")
    started, started_cpu = time.perf_counter(), time.process_time()
    count = 0
    with frames() as iterator:
        for _ in iterator:
            count += 1
    seconds, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    growth = _rss_kib("VmHWM") - before
    print(json.dumps({"frames": count, "seconds": seconds, "cpu_seconds": cpu, "growth_kib": growth}))


def iterate_in_subprocess(emu: RunningEmulator, title: str, implementation: str) -> dict[str, float]:
    code = "import sys, bench.media as m; m.child_iterate(*sys.argv[1:])"
    completed = subprocess.run(
        [sys.executable, "-c", code, emu.url, str(emu.key_file), title, implementation],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{implementation} {title}: {completed.stderr[-2000:]}")
    result: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


# --- report -------------------------------------------------------------------------------------------------------


def report_frame(frame: dict[str, float], index: int, what: str) -> None:
    size = frame["file_bytes"]
    print(f"\n(b) frame #{index} ({what}) of a {LONG_S} s 1280x720 video ({size / 1e6:.1f} MB, keyframe every 2 s)")
    print(
        f"    bytes sent: runner-core {frame['ours_bytes'] / 1e6:.2f} MB ({frame['ours_bytes'] / size:.3f}x file)"
        f" | encord-agents {frame['theirs_bytes'] / 1e6:.2f} MB ({frame['theirs_bytes'] / size:.3f}x file)"
    )
    print(
        f"    time (median of 3): runner-core {frame['ours_s']:.3f} s | encord-agents {frame['theirs_s']:.3f} s"
        f" | ratio {frame['ours_s'] / frame['theirs_s']:.2f}"
        f" | mean |pixel difference| {frame['mean_abs_pixel_difference']:.2f}"
    )


def main() -> None:
    started = time.perf_counter()
    long_video, short_video = bench_video(LONG_S), bench_video(SHORT_S)
    print(f"videos ready in {time.perf_counter() - started:.1f} s ({long_video.stat().st_size / 1e6:.1f} MB long)")
    counter = ByteCounter()
    counter.install()
    with run_emulator(seed(long_video, short_video)) as emu:
        images = batch_of_images(emu)
        ratio = images["ours_s"] / images["theirs_s"]
        print(f"\n(a) {IMAGES} image tasks, dep_single_frame, {LATENCY_MS} ms latency per request")
        print(
            f"    runner-core {images['ours_s']:.3f} s | encord-agents {images['theirs_s']:.3f} s | ratio {ratio:.2f}"
        )

        for index, what in ((LONG_S * FPS // 2, "on a keyframe"), (LONG_S * FPS // 2 + 2 * FPS - 1, "worst case")):
            report_frame(middle_frame(emu, counter, long_video, index), index, what)

        print("\n(c) iterating every frame (download included), peak RSS growth (own subprocess each, interleaved)")
        growth: dict[tuple[str, str], float] = {}
        times: dict[str, list[tuple[float, float]]] = {"ours": [], "theirs": []}
        for round_ in range(ITERATION_ROUNDS):
            for implementation in ("ours", "theirs") if round_ % 2 == 0 else ("theirs", "ours"):
                for title in ("short.mp4", "long.mp4"):
                    run = iterate_in_subprocess(emu, title, implementation)
                    growth[(implementation, title)] = run["growth_kib"]
                    if title == "long.mp4":
                        times[implementation].append((run["seconds"], run["cpu_seconds"]))
                    print(
                        f"    {implementation:6s} {title:9s} {int(run['frames']):5d} frames in {run['seconds']:.1f} s"
                        f" (CPU {run['cpu_seconds']:.1f} s), peak RSS growth {run['growth_kib'] / 1024:.1f} MiB"
                    )
        (our_s, our_cpu), (their_s, their_cpu) = (
            (statistics.median(t for t, _ in times[side]), statistics.median(c for _, c in times[side]))
            for side in ("ours", "theirs")
        )
        print(
            f"    long video, median of {ITERATION_ROUNDS}: runner-core {our_s:.2f} s (CPU {our_cpu:.2f} s) | "
            f"encord-agents (OpenCV) {their_s:.2f} s (CPU {their_cpu:.2f} s) | time ratio {our_s / their_s:.2f}, "
            f"CPU ratio {our_cpu / their_cpu:.2f}"
        )
        for implementation in ("ours", "theirs"):
            short, long = growth[(implementation, "short.mp4")], growth[(implementation, "long.mp4")]
            print(f"    {implementation}: 60 s / 5 s growth ratio {long / max(short, 1):.2f}")
