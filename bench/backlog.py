"""The task ledger and the bounded producer under production traffic. Run: `python -m bench backlog`.

1. Producer scale: 1k, 20k and 100k tasks waiting at one stage (an Encord emulator process each), the real GCP
   producer path (functions.trigger -> Pub/Sub emulator, ledger on the Firestore emulator) run twice in a fresh
   child process each: producer time, messages, peak RSS of the producer process, messages per task across both
   runs. (The AWS producer is the same code; moto's SQS makes every send O(queue depth), so 100k messages on moto
   would measure moto.)
2. Agent runs per task under repeated dispatch, on each local cloud path with its ledger (DynamoDB on moto, the
   Firestore emulator): 60 tasks, the producer run 4 times 1 s apart while tasks are queued and in flight.
3. What the ledger costs a consumer: store requests per task and the wall time added per 10-task batch
   (`QueueRunner.process` with and without a DynamoDB / Firestore ledger, same emulator, median of 7 batches).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from encord.workflow.stages.agent import AgentTask

# BENCH_BACKLOG_SIZES=1000,2000 for a quick look.
SIZES = tuple(int(n) for n in os.environ.get("BENCH_BACKLOG_SIZES", "1000,20000,100000").split(","))
SEED_PAGE_SIZE = 500  # the emulator's listing scans its rows per page: bigger pages keep 100k listable here
REPEATED_TASKS = 60
PRODUCER_RUNS = 4


# --- 1. producer scale -----------------------------------------------------------------------------------------------


def _producer_child() -> None:
    """In a fresh process: one producer run against the environment's emulators; prints one JSON line."""
    from functions.ledgers import ledger_from_environment
    from functions.publishers.pubsub import PubSubPublisher
    from functions.trigger import publish_waiting_tasks
    from runner_core import QueueRunner

    runner = QueueRunner(project_hash=os.environ["BENCH_PROJECT_HASH"])
    runner.stage("pre-label")(_never_called)
    started = time.perf_counter()
    summary = publish_waiting_tasks(runner, PubSubPublisher(topic=os.environ["RUNNER_TOPIC"]))
    seconds = time.perf_counter() - started
    ledger = ledger_from_environment()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "published": summary.tasks,
                "messages": summary.messages,
                "listed": summary.listed,
                "in_flight": summary.in_flight,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "store_requests": ledger.counters.store_requests if ledger is not None else 0,
            }
        )
    )


def _never_called(task: AgentTask) -> str:  # the producer never runs agents
    raise AssertionError("the producer ran an agent")


def _producer_scale() -> list[dict[str, Any]]:
    from PIL import Image

    from deploy.local.seeds import DEMO_PROJECT_HASH, backlog_seed, write_seed
    from deploy.local.stack import Stack

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, Stack(run_dir=Path(tmp) / "run") as stack:
        image = Path(tmp) / "one.png"
        Image.new("RGB", (4, 4)).save(image)
        firestore_host = stack.firestore_url.removeprefix("http://").rstrip("/")
        pubsub_host = stack.pubsub_url.removeprefix("http://").rstrip("/")
        for size in SIZES:
            seed = write_seed(
                backlog_seed(count=size, image=image, page_size=SEED_PAGE_SIZE), Path(tmp) / f"{size}.yaml"
            )
            encord = stack.encord_emulator(seed=seed, name=f"encord-{size}")
            topic = _topic(pubsub_host, f"bench-{size}-{os.getpid()}")
            env = {
                **os.environ,
                **encord.env(),
                "BENCH_PROJECT_HASH": DEMO_PROJECT_HASH,
                "PUBSUB_EMULATOR_HOST": pubsub_host,
                "FIRESTORE_EMULATOR_HOST": firestore_host,
                "GOOGLE_CLOUD_PROJECT": f"bench-{size}",
                "RUNNER_TOPIC": topic,
                "RUNNER_LEDGER_COLLECTION": f"ledger-{size}",
            }
            runs = [_run_child(env) for _ in range(2)]
            rows.append({"tasks": size, "runs": runs})
            print(f"  {size:>7} tasks: " + "; ".join(f"{r['published']} published in {r['seconds']:.1f} s, peak "
                  f"{r['peak_rss_mb']:.0f} MB" for r in runs), flush=True)  # fmt: skip
    return rows


def _topic(pubsub_host: str, name: str) -> str:
    os.environ["PUBSUB_EMULATOR_HOST"] = pubsub_host
    import google.cloud.pubsub_v1 as pubsub_v1

    topic = f"projects/bench/topics/{name}"
    pubsub_v1.PublisherClient().create_topic(name=topic)
    return topic


def _run_child(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.backlog", "--producer-child"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"producer child failed: {done.stderr[-2000:]}")
    line = [text for text in done.stdout.splitlines() if text.startswith("{") and '"peak_rss_mb"' in text][-1]
    return dict(json.loads(line))


# --- 2. agent runs per task under repeated dispatch --------------------------------------------------------------


def _repeated_dispatch() -> list[dict[str, Any]]:
    from deploy.local.demo import RepeatedProducer
    from deploy.local.encord import EmulatorControl
    from deploy.local.errors import ComponentUnavailableError
    from deploy.local.outcomes import read_outcomes, summarise
    from deploy.local.seeds import DEMO_PROJECT_HASH, image_project_seed, write_seed
    from deploy.local.stack import LEDGER_AWS_CONFIG, AwsPath, GcpPath, GcpPathConfig, Stack, wait_for

    rows: list[dict[str, Any]] = []
    half = REPEATED_TASKS // 2
    for cloud in ("aws", "gcp"):
        with tempfile.TemporaryDirectory() as tmp, Stack(run_dir=Path(tmp) / "run") as stack:
            seed = write_seed(image_project_seed(bright=half, dark=half), Path(tmp) / "seed.yaml")
            encord = stack.encord_emulator(seed=seed)
            control = EmulatorControl(encord.url)
            try:
                path: AwsPath | GcpPath = (
                    stack.aws_path(encord=encord, config=LEDGER_AWS_CONFIG)
                    if cloud == "aws"
                    else stack.gcp_path(encord=encord, config=GcpPathConfig(concurrency=8, ledger=True))
                )
            except ComponentUnavailableError as exc:
                print(f"  {cloud}: skipped: {exc}")
                continue
            producer = RepeatedProducer(path, runs=PRODUCER_RUNS, interval_s=1.0)
            producer.start()
            producer.join()

            def done(p: AwsPath | GcpPath = path, c: EmulatorControl = control) -> bool:
                if c.stage_counts(DEMO_PROJECT_HASH)["pre-label"]:
                    return False
                if isinstance(p, AwsPath):
                    return p.depth() == 0
                return p.bridge is not None and p.bridge.idle_for() > 1.0

            wait_for(done, timeout_s=300, what="the stage to empty")
            summary = summarise(read_outcomes(stack.run_dir / "logs", prefix=path.log_prefix))
            rows.append(
                {
                    "cloud": cloud,
                    "tasks": REPEATED_TASKS,
                    "producer_runs": producer.runs,
                    "published": producer.published,
                    "agent_runs": summary.agent_runs,
                    "skipped": summary.skipped,
                }
            )
            print(f"  {cloud}: {summary.agent_runs} agent runs for {REPEATED_TASKS} tasks", flush=True)
    return rows


# --- 3. what the ledger costs a consumer -------------------------------------------------------------------------


def _consumer_cost() -> list[dict[str, Any]]:
    from moto.server import ThreadedMotoServer

    from deploy.local.processes import free_port
    from deploy.local.seeds import image_project_seed
    from deploy.local.stack import Stack
    from encord_emulator.testing import run_emulator
    from functions.ledgers.dynamodb import DynamoDbStore
    from functions.ledgers.firestore import FirestoreStore
    from runner_core import QueueMessage, QueueRunner
    from runner_core.ledger import Ledger, TaskLedger
    from runner_core.messages import encode_envelope

    batches, per_batch = 7, 10
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    rows: list[dict[str, Any]] = []
    try:
        os.environ.update(
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_DEFAULT_REGION="us-east-1",
        )
        from deploy.local.dynamodb import create_ledger_table

        table = create_ledger_table(f"http://127.0.0.1:{port}", name="bench-ledger")
        with tempfile.TemporaryDirectory() as tmp, Stack(run_dir=Path(tmp) / "run") as stack:
            os.environ["FIRESTORE_EMULATOR_HOST"] = stack.firestore_url.removeprefix("http://").rstrip("/")
            os.environ["GOOGLE_CLOUD_PROJECT"] = "bench-consumer"
            ledgers: dict[str, Ledger | None] = {
                "none": None,
                "dynamodb": TaskLedger(DynamoDbStore(table=table)),
                "firestore": TaskLedger(FirestoreStore(collection="bench-consumer")),
            }
            for name, ledger in ledgers.items():
                seed = image_project_seed(bright=batches * per_batch, dark=0)
                with run_emulator(seed) as emu:
                    runner = QueueRunner(emu.project_hash, user_client=emu.client(), ledger=ledger)

                    @runner.stage("pre-label")
                    def agent(task: AgentTask) -> None:
                        return None  # held: the task stays, so the settle is a real write too

                    stage = runner.resolve_project().stage("pre-label")
                    tasks = list(stage.stage.get_tasks())
                    times: list[float] = []
                    for index in range(batches):
                        chunk = tasks[index * per_batch : (index + 1) * per_batch]
                        messages = [
                            QueueMessage(
                                message_id=f"{name}-{t.uuid}",
                                body=encode_envelope(project_hash=emu.project_hash, stage_uuid=stage.uuid, tasks=[t]),
                            )
                            for t in chunk
                        ]
                        started = time.perf_counter()
                        runner.process(messages)
                        times.append(time.perf_counter() - started)
                    requests = ledger.counters.store_requests if ledger is not None else 0
                    rows.append(
                        {
                            "ledger": name,
                            "median_batch_s": statistics.median(times),
                            "store_requests_per_task": requests / (batches * per_batch),
                        }
                    )
                    print(f"  {name}: {statistics.median(times) * 1000:.0f} ms per 10-task batch", flush=True)
    finally:
        moto.stop()
    return rows


def main() -> None:
    results = {
        "producer_scale": _producer_scale(),
        "repeated_dispatch": _repeated_dispatch(),
        "consumer_cost": _consumer_cost(),
    }
    out = Path(tempfile.gettempdir()) / "bench-backlog.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"raw figures: {out}")
    _print_tables(results)


def _print_tables(results: dict[str, Any]) -> None:
    scale = results["producer_scale"]
    print("\n| waiting tasks | first run | published | messages per task (2 runs) | producer peak RSS | second run |")
    print("|---:|---:|---:|---:|---:|---:|")
    base = scale[0]["runs"][0]["peak_rss_mb"] if scale else 0
    for row in scale:
        first, second = row["runs"]
        per_task = (first["messages"] + second["messages"]) / row["tasks"]
        print(
            f"| {row['tasks']:,} | {first['seconds']:.1f} s | {first['published']:,} | {per_task:.2f} | "
            f"{first['peak_rss_mb']:.0f} MB ({first['peak_rss_mb'] / base:.2f}x of 1k) | "
            f"{second['seconds']:.1f} s, {second['published']} published |"
        )
    print("\n| cloud | tasks | producer runs | published | agent runs | agent runs per task |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in results["repeated_dispatch"]:
        print(
            f"| {row['cloud']} | {row['tasks']} | {row['producer_runs']} | {row['published']} | {row['agent_runs']} | "
            f"{row['agent_runs'] / row['tasks']:.2f} |"
        )
    cost = {row["ledger"]: row for row in results["consumer_cost"]}
    print("\n| ledger | consumer store requests per task | median 10-task batch | added per batch |")
    print("|---|---:|---:|---:|")
    for name, row in cost.items():
        added = row["median_batch_s"] - cost["none"]["median_batch_s"]
        print(
            f"| {name} | {row['store_requests_per_task']:.2f} | {row['median_batch_s'] * 1000:.0f} ms | "
            f"{added * 1000:+.0f} ms |"
        )


if __name__ == "__main__":
    if sys.argv[1:] == ["--producer-child"]:
        _producer_child()
    else:
        main()
