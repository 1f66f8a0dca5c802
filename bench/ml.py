"""The ML example's consumer (examples/ml: onnxruntime, model loaded once per instance): cold start and load count.

1. Cold start, per fresh process (a new Lambda instance) through `functions.aws.consume`, one SQS record with one
   image task, two ways:
   - lazy: the model loads on the first message (what a plain cold start does);
   - preloaded: `runner.warm_up()` runs in the import phase, before the first message (what SnapStart's
     before-snapshot hook does, and what a snapshot restore then skips).
   Timed: import phase (framework, agent module and, when preloaded, the warm-up) and first message; medians.
2. Model loads across BATCHES batches of 2 tasks each through the same handler in one process (target: 1).

Run: `python -m bench ml` (`BENCH_ML_RUNS=N` for more cold processes per way).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench.coldstart import REPO, _bodies, _phase, _seed, _send
from encord_emulator.testing import RunningEmulator, run_emulator

RUNS = int(os.environ.get("BENCH_ML_RUNS", "7"))
BATCHES = 50
TARGET = "examples.ml.agent:runner"

CHILD = """
import json, sys, time

preload = sys.argv[1] == "preloaded"
started = time.perf_counter()
import functions.aws as framework
from functions.target import load_runner
runner = load_runner()
if preload:
    runner.warm_up()
from examples.ml.agent import model_loads
print(json.dumps({"phase": "import", "seconds": time.perf_counter() - started, "loads": model_loads.count}),
      flush=True)
body = sys.stdin.readline().strip()
from awslambdaric.lambda_context import LambdaContext
context = LambdaContext("req", None, None, int((time.time() + 60) * 1000), "arn:aws:lambda:bench")
event = {"Records": [{"messageId": "m1", "receiptHandle": "r", "body": body,
          "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
          "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q", "awsRegion": "us-east-1"}]}
t0 = time.perf_counter()
result = framework.consume(event, context)
print(json.dumps({"phase": "first_message", "seconds": time.perf_counter() - t0, "loads": model_loads.count,
                  "failures": len(result["batchItemFailures"])}), flush=True)
"""


@dataclass(frozen=True, slots=True)
class Sample:
    import_s: float
    first_message_s: float
    loads_before_message: int
    loads_after_message: int
    moved: bool

    @property
    def total_s(self) -> float:
        return self.import_s + self.first_message_s


def _environment(emu: RunningEmulator) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "ENCORD_SSH_KEY": emu.ssh_key,
        "ENCORD_DOMAIN": emu.url,
        "DEMO_PROJECT_HASH": emu.project_hash,
        "RUNNER_TARGET": TARGET,
        "AWS_LAMBDA_FUNCTION_NAME": "bench-ml",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    env.pop("ENCORD_SSH_KEY_FILE", None)
    return env


def _cold(way: str, body: str, task_uuid: str, emu: RunningEmulator, env: dict[str, str]) -> Sample:
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, way],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    imported = _phase(process, "import")
    _send(process, body)
    first = _phase(process, "first_message")
    process.communicate(timeout=60)
    return Sample(
        import_s=float(str(imported["seconds"])),
        first_message_s=float(str(first["seconds"])),
        loads_before_message=int(str(imported["loads"])),
        loads_after_message=int(str(first["loads"])),
        moved=emu.state.task_stage(task_uuid) == "Annotate" and first["failures"] == 0,
    )


def measure_cold_start(runs: int = RUNS) -> dict[str, list[Sample]]:
    with run_emulator(_seed(2 * runs)) as emu:
        env = _environment(emu)
        bodies = _bodies(emu, 2 * runs)
        samples: dict[str, list[Sample]] = {"lazy": [], "preloaded": []}
        for run in range(runs):
            jobs = [("lazy", bodies[2 * run]), ("preloaded", bodies[2 * run + 1])]
            for way, (body, _, task) in jobs if run % 2 == 0 else reversed(jobs):  # alternate who goes first
                samples[way].append(_cold(way, body, task, emu, env))
    return samples


def measure_load_count(batches: int = BATCHES) -> dict[str, Any]:
    """`batches` SQS events of 2 tasks each through `functions.aws.consume` in this process."""
    from awslambdaric.lambda_context import LambdaContext
    from encord.workflow.stages.agent import AgentStage

    from runner_core.messages import encode_envelope

    with run_emulator(_seed(2 * batches)) as emu:
        os.environ.update({k: v for k, v in _environment(emu).items() if k != "PYTHONPATH"})
        import functions.aws as framework
        from examples.ml.agent import model_loads

        stage = emu.client().get_project(emu.project_hash).workflow.get_stage(name="pre-label", type_=AgentStage)
        tasks = list(stage.get_tasks())
        before = model_loads.count
        failures = 0
        started = time.perf_counter()
        for index in range(batches):
            body = encode_envelope(
                project_hash=emu.project_hash, stage_uuid=stage.uuid, tasks=tasks[2 * index : 2 * index + 2]
            )
            record = {"messageId": f"m{index}", "receiptHandle": "r", "body": body, "md5OfBody": "",
                      "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                      "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
                      "awsRegion": "us-east-1"}  # fmt: skip
            context = LambdaContext("req", None, None, int((time.time() + 60) * 1000), "arn:aws:lambda:bench")
            failures += len(framework.consume({"Records": [record]}, context)["batchItemFailures"])
        moved = sum(emu.state.task_stage(str(t.uuid)) == "Annotate" for t in tasks)
        return {
            "batches": batches,
            "tasks": len(tasks),
            "moved": moved,
            "failures": failures,
            "model_loads": model_loads.count - before,
            "seconds": time.perf_counter() - started,
        }


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f}"


def main() -> None:
    samples = measure_cold_start()
    print(f"cold start of {TARGET} through functions.aws.consume, {RUNS} fresh processes per way, medians in ms")
    print("| | import phase | first message | import + first message | model loads before / after message |")
    print("|---|---:|---:|---:|---|")
    for way, label in (("lazy", "model loaded on the first message"), ("preloaded", "model loaded before it")):
        rows = samples[way]
        assert all(s.moved for s in rows), f"{way}: a task did not move"
        loads = sorted({(s.loads_before_message, s.loads_after_message) for s in rows})
        print(
            f"| {label} | {_ms([s.import_s for s in rows])} | {_ms([s.first_message_s for s in rows])} "
            f"| {_ms([s.total_s for s in rows])} | {', '.join(f'{a} / {b}' for a, b in loads)} |"
        )
    counted = measure_load_count()
    print(json.dumps(counted))
    print(
        f"model loads across {counted['batches']} batches ({counted['moved']}/{counted['tasks']} tasks moved): "
        f"{counted['model_loads']} (target: 1) {'met' if counted['model_loads'] == 1 else 'NOT MET'}"
    )


if __name__ == "__main__":
    main()
