"""A batch of image tasks with `dep_single_frame` behind 20 ms per request: runner-core vs encord-agents 0.2.10.

The emulator and a latency proxy (`bench.latency_proxy`: 20 ms on every API and media request, each request
counted) run in their own process, so this process holds nothing but the consumer: its CPU time is the
consumer's CPU. Both runners get the same batches (24 and 50 tasks of 640x480 PNGs), interleaved over several
rounds so that load from other work on the machine falls on both sides alike; medians are reported.
The floor is what the batch cannot avoid: the dependent API round trips, ceil(N / k) rounds of media requests
(k images fetched at once) and decoding the N images on one core. Run: `python -m bench media_batch`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from encord.user_client import EncordUserClient
from encord.workflow.stages.agent import AgentStage
from encord_agents.core.dependencies import Depends as TheirDepends
from encord_agents.tasks import QueueRunner as TheirQueueRunner
from encord_agents.tasks.dependencies import dep_single_frame as their_single_frame
from numpy.typing import NDArray

from runner_core import Depends, QueueMessage, QueueRunner
from runner_core.dependencies import dep_single_frame
from runner_core.messages import encode_envelope

PROJECT_HASH = "be4d0000-0000-4000-8000-000000000002"
STAGE = "pre-label"
BATCH_SIZES = (24, 50)
LATENCY_S = 0.020
ROUNDS = 5
ROOT = Path(__file__).resolve().parent.parent


def seed() -> dict[str, Any]:
    return {
        "version": 1,
        "projects": [
            {
                "project_hash": PROJECT_HASH,
                "title": "image batch benchmark",
                "stages": [
                    {"title": STAGE, "type": "agent", "pathways": {"done": "Done"}},
                    {"title": "Done", "type": "done"},
                ],
                "data": [
                    {
                        "type": "image",
                        "title": "img-{i:03d}.png",
                        "count": max(BATCH_SIZES),
                        "generate": {"width": 640, "height": 480, "seed": 5},
                    }
                ],
            }
        ],
    }


# --- the server process: emulator + latency proxy -----------------------------------------------------------------


def serve(key_file: str) -> None:
    """Subprocess body: run both, print `ready <proxy url>`, then answer `counts` (and reset) until `quit`."""
    from bench.latency_proxy import LatencyProxy
    from encord_emulator.testing import run_emulator

    with run_emulator(seed()) as emu, LatencyProxy.running(emu.url, delay_s=LATENCY_S) as proxy:
        Path(key_file).write_text(emu.ssh_key)
        print(f"ready {proxy.url}", flush=True)
        for line in sys.stdin:
            if line.strip() == "counts":
                print(json.dumps({**proxy.counts, "connections": proxy.connections}), flush=True)
                proxy.reset()
            elif line.strip() == "quit":
                return


class Server:
    def __init__(self, workdir: Path) -> None:
        self.key_file = workdir / "key"
        code = "import sys, bench.media_batch as m; m.serve(sys.argv[1])"
        env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, str(self.key_file)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("ready "):
            self.process.kill()
            raise RuntimeError(f"server did not start: {line!r}")
        self.url = line.split()[1]
        self.ssh_key = self.key_file.read_text()

    def counts(self) -> dict[str, int]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("counts\n")
        self.process.stdin.flush()
        counts: dict[str, int] = json.loads(self.process.stdout.readline())
        return counts

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("quit\n")
        self.process.stdin.flush()
        self.process.wait(timeout=30)


# --- the two runners ----------------------------------------------------------------------------------------------


@contextmanager
def agents_env(server: Server) -> Iterator[None]:
    """encord-agents reads its key and domain from the environment and caches its client."""
    from encord_agents.core.utils import get_user_client_from_settings

    os.environ["ENCORD_SSH_KEY"] = server.ssh_key
    os.environ["ENCORD_DOMAIN"] = server.url
    os.environ.pop("ENCORD_SSH_KEY_FILE", None)
    get_user_client_from_settings.cache_clear()
    try:
        yield
    finally:
        os.environ.pop("ENCORD_SSH_KEY", None)
        os.environ.pop("ENCORD_DOMAIN", None)
        get_user_client_from_settings.cache_clear()


def runners(server: Server) -> tuple[Callable[[list[Any]], None], Callable[[list[Any]], None], list[Any]]:
    client = EncordUserClient.create_with_ssh_private_key(ssh_private_key=server.ssh_key, domain=server.url)
    stage = client.get_project(PROJECT_HASH).workflow.get_stage(name=STAGE, type_=AgentStage)
    tasks = list(stage.get_tasks())
    assert len(tasks) == max(BATCH_SIZES)
    shapes: set[tuple[int, ...]] = set()

    ours = QueueRunner(PROJECT_HASH, user_client=client)

    @ours.stage(STAGE)
    def our_agent(frame: Annotated[NDArray[np.uint8], Depends(dep_single_frame)]) -> None:
        shapes.add(frame.shape)  # no pathway: the task stays, so every round sees the same batch

    def run_ours(batch: list[Any]) -> None:
        body = encode_envelope(project_hash=PROJECT_HASH, stage_uuid=stage.uuid, tasks=batch)
        (result,) = ours.process([QueueMessage(message_id="bench", body=body)])
        assert result.ok, result

    theirs = TheirQueueRunner(project_hash=PROJECT_HASH)

    @theirs.stage(STAGE)
    def their_agent(frame: Annotated[NDArray[np.uint8], TheirDepends(their_single_frame)]) -> None:
        shapes.add(frame.shape)

    def run_theirs(batch: list[Any]) -> None:
        result = json.loads(their_agent([task.model_dump_json() for task in batch]))
        assert result["error"] is None, result["error"]

    run_ours(tasks[:1])  # warm: project and stage resolved, threads and connections up
    run_theirs(tasks[:1])
    assert shapes == {(480, 640, 3)}
    return run_ours, run_theirs, tasks


def measure(run: Callable[[], None]) -> tuple[float, float]:
    """Wall and CPU seconds (every thread of this process: the consumer's own work)."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def decode_cpu_s(server: Server, tasks: list[Any], count: int) -> float:
    """CPU seconds to decode `count` of the batch's PNGs one after another (the floor's compute part)."""
    import requests

    from runner_core.media.frames import decode_image_bytes

    client = EncordUserClient.create_with_ssh_private_key(ssh_private_key=server.ssh_key, domain=server.url)
    project = client.get_project(PROJECT_HASH)
    rows = project.list_label_rows_v2(data_hashes=[t.data_hash for t in tasks[:count]])
    items = client.get_storage_items([row.backing_item_uuid for row in rows if row.backing_item_uuid], sign_url=True)
    blobs = [requests.get(item.get_signed_url() or "", timeout=30).content for item in items]
    started = time.process_time()
    for blob in blobs:
        decode_image_bytes(blob, name="bench")
    return time.process_time() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-media-batch-") as tmp:
        server = Server(Path(tmp))
        try:
            with agents_env(server):
                run_ours, run_theirs, tasks = runners(server)
                server.counts()
                figures: dict[tuple[str, int], list[tuple[float, float]]] = {}
                requests_of: dict[tuple[str, int], dict[str, int]] = {}
                for _ in range(ROUNDS):
                    for size in BATCH_SIZES:
                        for side, run in (("ours", run_ours), ("theirs", run_theirs)):
                            batch = tasks[:size]
                            figures.setdefault((side, size), []).append(measure(lambda r=run, b=batch: r(b)))  # type: ignore[misc]
                            requests_of[(side, size)] = server.counts()
                decode = {size: decode_cpu_s(server, tasks, size) for size in BATCH_SIZES}
        finally:
            server.close()
    load = os.getloadavg()[0]
    print(f"{LATENCY_S * 1000:.0f} ms per request through a counting proxy; median of {ROUNDS} interleaved rounds; "
          f"load average {load:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
    for size in BATCH_SIZES:
        (our_wall, our_cpu), (their_wall, their_cpu) = (
            tuple(statistics.median(values) for values in zip(*figures[(side, size)], strict=True))
            for side in ("ours", "theirs")
        )
        ours_req, theirs_req = requests_of[("ours", size)], requests_of[("theirs", size)]
        api_rounds = ours_req.get("api", 0)
        floor = (API_ROUND_TRIPS + 1) * LATENCY_S + decode[size]  # k = N: every image fetched at once
        print(f"\n{size} image tasks (640x480 PNG), dep_single_frame")
        print(f"    wall: runner-core {our_wall:.3f} s | encord-agents {their_wall:.3f} s | "
              f"ratio {our_wall / their_wall:.2f} | floor {floor:.3f} s "
              f"(ours {our_wall / floor:.2f}x floor)")  # fmt: skip
        print(f"    consumer CPU per task: runner-core {our_cpu / size * 1000:.2f} ms | encord-agents "
              f"{their_cpu / size * 1000:.2f} ms | ratio {our_cpu / their_cpu:.2f}")  # fmt: skip
        print(f"    requests (api/media/connections): runner-core {api_rounds}/{ours_req.get('media', 0)}/"
              f"{ours_req.get('connections', 0)} | encord-agents {theirs_req.get('api', 0)}/"
              f"{theirs_req.get('media', 0)}/{theirs_req.get('connections', 0)}")  # fmt: skip
        print(f"    decode CPU of the {size} PNGs on one core: {decode[size]:.3f} s")


# The API round trips a batch cannot avoid, each depending on the last: re-fetch the tasks with their label rows,
# fetch the storage items (signed URLs), then settle the tasks (save / proceed), plus the first listing.
API_ROUND_TRIPS = 4


if __name__ == "__main__":
    main()
