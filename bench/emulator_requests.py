"""Requests per second the emulator serves for `get_tasks` and label-row metadata, 1,000 and 100,000 tasks.

At 100,000 tasks a listing must cost O(page), not O(tasks in the project): besides the first page, clients ask
for a page deep in the stage (its token names a task near the end). The emulator runs as its own process
(`python -m encord_emulator serve`), as in the local stack, so the client's CPU does not share its GIL. Clients
send the SDK's exact requests, signed with the SDK's own signers, and like the SDK open a fresh connection per
request. Target: >= 500 requests/s on two cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from cryptography.hazmat.primitives.serialization import load_ssh_private_key
from encord.configs import SshConfig
from encord.http.v2.request_signer import sign_request

STAGE_SIZES = (1_000, 100_000)
SECONDS_PER_ROUTE = 6.0
CLIENT_THREADS = 6
PROJECT = "b0000000-0000-4000-8000-000000000001"
REPO = Path(__file__).resolve().parent.parent


def _seed(tasks: int) -> dict[str, object]:
    return {
        "version": 1,
        "projects": [
            {
                "project_hash": PROJECT,
                "title": "bench",
                "stages": [
                    {"title": "pre-label", "type": "agent", "pathways": {"done": "Complete"}},
                    {"title": "Complete", "type": "done"},
                ],
                "data": [
                    {
                        "type": "image",
                        "title": "img-{i:06d}.png",
                        "count": tasks,
                        "generate": {"width": 8, "height": 8},
                    }
                ],
            }
        ],
    }


def _start(workdir: Path, tasks: int) -> tuple[subprocess.Popen[str], str, SshConfig]:
    seed_file = workdir / "seed.json"  # JSON is valid YAML
    seed_file.write_text(json.dumps(_seed(tasks)))
    key_file = workdir / "key.pem"
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_PROXY": "127.0.0.1,localhost"}
    process = subprocess.Popen(
        [sys.executable, "-m", "encord_emulator", "serve", "--seed", str(seed_file), "--port", "0",
         "--key-out", str(key_file)],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("ready "):
        process.kill()
        raise RuntimeError(f"emulator did not start: {line!r}")
    url = line.split()[1]
    key = load_ssh_private_key(key_file.read_bytes(), password=None)
    return process, url, SshConfig(key, domain=url)  # type: ignore[arg-type]


def _measure(name: str, send: Callable[[], requests.Response]) -> float:
    deadline = time.perf_counter() + SECONDS_PER_ROUTE
    counts = [0] * CLIENT_THREADS
    failures: list[str] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        while time.perf_counter() < deadline:
            response = send()
            if response.status_code != 200:
                with lock:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                return
            counts[index] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        list(pool.map(worker, range(CLIENT_THREADS)))
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{name}: {failures[0]}")
    rate = sum(counts) / elapsed
    print(f"{name:<58} {rate:8.0f} req/s  ({sum(counts)} requests in {elapsed:.1f} s)", flush=True)
    return rate


def main() -> None:
    for tasks in STAGE_SIZES:
        _run(tasks)


def _run(tasks: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-emulator-") as tmp:
        started = time.perf_counter()
        process, url, config = _start(Path(tmp), tasks)
        try:
            with requests.Session() as session:
                project = _v2(session, config, url, f"/v2/public/projects/{PROJECT}").json()
                stage = project["workflow"]["stages"][0]["uuid"]
                tasks_path = f"/v2/public/projects/{PROJECT}/workflow/stages/{stage}/tasks"
                first_page = _v2(session, config, url, tasks_path).json()
                data_hashes = [task["dataHash"] for task in first_page["results"][:10]]
                # A token for the last full page of the stage: walk the pages once (also checks they are all there).
                deep_token, listed, token = None, 0, None
                while True:
                    page = _v2(session, config, url, tasks_path + (f"?pageToken={token}" if token else "")).json()
                    listed += len(page["results"])
                    if page["nextPageToken"] is None:
                        break
                    deep_token, token = token, page["nextPageToken"]
                if listed != tasks:
                    raise RuntimeError(f"listed {listed} tasks, seeded {tasks}")
            print(f"emulator at {url}: {tasks:,} tasks in stage (up in {time.perf_counter() - started:.1f} s), "
                  f"{CLIENT_THREADS} client threads, fresh connection per request (as the SDK)")  # fmt: skip

            def tasks_page() -> requests.Response:
                return _v2(None, config, url, tasks_path)  # one page: 100 tasks

            def tasks_deep_page() -> requests.Response:
                return _v2(None, config, url, f"{tasks_path}?pageToken={deep_token}")

            def metadata_batch() -> requests.Response:
                return _legacy(config, url, {"data_hashes": data_hashes, **_METADATA_FLAGS})

            def metadata_all() -> requests.Response:
                return _legacy(config, url, {"data_hashes": None, **_METADATA_FLAGS})

            _measure(f"[{tasks:,}] get_tasks (GET .../tasks, first 100-task page)", tasks_page)
            _measure(f"[{tasks:,}] get_tasks (page token near the end of the stage)", tasks_deep_page)
            _measure(f"[{tasks:,}] label-row metadata (10 data hashes)", metadata_batch)
            if tasks <= 1_000:  # a response of every row: O(all rows) by definition
                _measure(f"[{tasks:,}] label-row metadata (all rows, a heavy request)", metadata_all)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)


_METADATA_FLAGS: dict[str, object] = {
    "include_uninitialised_labels": True,
    "include_workflow_graph_node": True,
    "include_client_metadata": False,
    "label_hashes": None,
}


def _v2(session: requests.Session | None, config: SshConfig, url: str, path: str) -> requests.Response:
    prepared = requests.Request("GET", url + path).prepare()
    sign_request(prepared, config.public_key_hex, config.private_key)
    if session is not None:
        return session.send(prepared, timeout=10)
    with requests.Session() as fresh:  # a fresh connection per request, like the SDK
        return fresh.send(prepared, timeout=10)


def _legacy(config: SshConfig, url: str, payload: dict[str, object]) -> requests.Response:
    body = json.dumps(
        {"query_type": "labelrowmetadata", "query_method": "GET", "values": {"uid": None, "payload": payload}}
    )
    headers = config.define_headers(PROJECT, "project", body)
    return requests.post(url + "/public", data=body, headers=headers, timeout=10)


if __name__ == "__main__":
    main()
