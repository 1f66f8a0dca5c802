"""Cold start of the SQS entrypoint: runner-core's `functions.aws.consume` vs an encord-agents 0.2.10 QueueRunner
module with the hand-written Lambda handler its docs leave to users. Same emulator, same agent, one task each.

Per cold process (a fresh interpreter, as a new Lambda instance): the time to import the handler and the user's
agents module, the Encord requests made by that import, and the latency of the first message (one SQS record,
processed and the task moved). Medians over RUNS alternating processes. Run: `python -m bench coldstart`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

from encord_emulator.testing import DEMO_SEED, RunningEmulator, run_emulator

RUNS = 7
REPO = Path(__file__).resolve().parent.parent
STAGE = "pre-label"

# The user's agents module on each side: one stage, no media, so the figures are the entrypoint's own cost.
OURS_AGENTS = """
import os
from runner_core import QueueRunner

runner = QueueRunner(project_hash=os.environ["BENCH_PROJECT_HASH"])

@runner.stage("pre-label")
def route(task_title: str = "") -> str:
    return "annotate"
"""

THEIRS_AGENTS = """
import os
from encord_agents.tasks import QueueRunner

runner = QueueRunner(project_hash=os.environ["BENCH_PROJECT_HASH"])

@runner.stage("pre-label")
def route() -> str:
    return "annotate"

def handler(event, context):
    # What encord-agents users write for Lambda: one wrapped call per record, failures raise for the whole batch.
    return [route(record["body"]) for record in event["Records"]]
"""

# The child: time the import, report, wait for the parent to read the emulator's request count, then time the
# first message. Printed lines are JSON so the parent can parse them.
CHILD = """
import json, sys, time
started = time.perf_counter()
side = sys.argv[1]
if side == "ours":
    import functions.aws as entry
    from functions._target import load_runner
    load_runner()  # the user's module, imported as the handler's first invocation would
    handle = entry.consume
else:
    import bench_theirs_agents as entry
    handle = entry.handler
imported = time.perf_counter()
print(json.dumps({"import_s": imported - started}), flush=True)
body = sys.stdin.readline().strip()
from awslambdaric.lambda_context import LambdaContext
context = LambdaContext("req", None, None, int((time.time() + 60) * 1000), "arn:aws:lambda:bench")
event = {"Records": [{"messageId": "m1", "receiptHandle": "r", "body": body,
          "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
          "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q", "awsRegion": "us-east-1"}]}
t0 = time.perf_counter()
result = handle(event, context)
print(json.dumps({"first_message_s": time.perf_counter() - t0, "result": str(result)[:200]}), flush=True)
"""


@dataclass
class Sample:
    import_s: float
    import_requests: int
    first_message_s: float
    first_message_requests: int
    moved: bool


def _bodies(emu: RunningEmulator, count: int) -> list[tuple[str, str, str]]:
    """(envelope body, encord-agents body, task uuid) for `count` tasks waiting in the stage."""
    from encord.workflow.stages.agent import AgentStage

    from runner_core.messages import encode_envelope

    stage = emu.client().get_project(emu.project_hash).workflow.get_stage(name=STAGE, type_=AgentStage)
    tasks = list(stage.get_tasks())[:count]

    return [
        (
            encode_envelope(project_hash=emu.project_hash, stage_uuid=stage.uuid, tasks=[t]),
            t.model_dump_json(),
            str(t.uuid),
        )
        for t in tasks
    ]


def _run_child(side: str, body: str, task_uuid: str, emu: RunningEmulator, env: dict[str, str]) -> Sample:
    emu.reset_counters()
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, side],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    first = json.loads(process.stdout.readline() or "{}")
    import_requests = emu.requests()
    process.stdin.write(body + "\n")
    process.stdin.flush()
    second = json.loads(process.stdout.readline() or "{}")
    _, stderr = process.communicate(timeout=60)
    if "first_message_s" not in second:
        raise RuntimeError(f"{side} child failed: {stderr[-2000:]}")
    return Sample(
        import_s=float(first["import_s"]),
        import_requests=import_requests,
        first_message_s=float(second["first_message_s"]),
        first_message_requests=emu.requests() - import_requests,
        moved=emu.state.task_stage(task_uuid) == "Annotate",
    )


def measure(runs: int = RUNS) -> dict[str, list[Sample]]:
    with run_emulator(DEMO_SEED) as emu, tempfile.TemporaryDirectory(prefix="bench-coldstart-") as tmp:
        Path(tmp, "bench_ours_agents.py").write_text(textwrap.dedent(OURS_AGENTS))
        Path(tmp, "bench_theirs_agents.py").write_text(textwrap.dedent(THEIRS_AGENTS))
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO), tmp]),
            "ENCORD_SSH_KEY": emu.ssh_key,
            "ENCORD_DOMAIN": emu.url,
            "BENCH_PROJECT_HASH": emu.project_hash,
            "RUNNER_TARGET": "bench_ours_agents:runner",
            "AWS_LAMBDA_FUNCTION_NAME": "bench",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        env.pop("ENCORD_SSH_KEY_FILE", None)
        bodies = _bodies(emu, 2 * runs)
        samples: dict[str, list[Sample]] = {"runner-core": [], "encord-agents": []}
        for run in range(runs):
            ours_body, _, ours_task = bodies[2 * run]
            _, theirs_body, theirs_task = bodies[2 * run + 1]
            samples["runner-core"].append(_run_child("ours", ours_body, ours_task, emu, env))
            samples["encord-agents"].append(_run_child("theirs", theirs_body, theirs_task, emu, env))
        return samples


def main() -> None:
    samples = measure()
    print(f"cold processes per side: {RUNS} (medians; one SQS record with one task, no media)")
    print(f"{'':15} {'import ms':>10} {'import reqs':>12} {'1st msg ms':>11} {'1st msg reqs':>13} {'moved':>6}")
    medians: dict[str, tuple[float, float]] = {}
    for side, runs in samples.items():
        import_ms = statistics.median(s.import_s for s in runs) * 1000
        first_ms = statistics.median(s.first_message_s for s in runs) * 1000
        medians[side] = (import_ms, first_ms)
        print(
            f"{side:15} {import_ms:10.0f} {max(s.import_requests for s in runs):12d} {first_ms:11.0f} "
            f"{statistics.median(s.first_message_requests for s in runs):13.0f} "
            f"{sum(s.moved for s in runs)}/{len(runs):>4}"
        )
    (ours_import, ours_first), (theirs_import, theirs_first) = medians["runner-core"], medians["encord-agents"]
    ours_total, theirs_total = ours_import + ours_first, theirs_import + theirs_first
    print(
        f"import + first message: runner-core {ours_total:.0f} ms, encord-agents {theirs_total:.0f} ms "
        f"({ours_total / theirs_total:.2f}x)"
    )
    no_requests = all(s.import_requests == 0 for s in samples["runner-core"])
    no_slower = "met" if ours_total <= theirs_total else "NOT met"
    print(
        f"target: runner-core no slower (import + first message) -> {no_slower}; "
        f"no Encord request at import -> {'met' if no_requests else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
