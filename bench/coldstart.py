"""Cold start of the SQS entrypoint: runner-core's `functions.aws.consume` vs an encord-agents 0.2.10 QueueRunner
module with the hand-written Lambda handler its docs leave to users. Same emulator, same agent, one task each.

Per cold process (a fresh interpreter, as a new Lambda instance) three phases are timed separately:
- framework import: `functions.aws` (ours) / `encord_agents.tasks` (theirs);
- user module import: the agents module; encord-agents' QueueRunner calls `get_project` here, ours does not;
- first message: one SQS record through the handler until the task is moved (ours fetches the project here).
Encord requests are counted after each phase. Sides alternate (and swap order every run) so machine load hits both
alike; figures are medians over RUNS processes per side. Run: `python -m bench coldstart`
(`BENCH_COLDSTART_RUNS=N` for more repeats).
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
from typing import Any

import yaml

from encord_emulator.testing import DEMO_SEED, RunningEmulator, run_emulator

OURS = "runner-core"
THEIRS = "encord-agents"
RUNS = int(os.environ.get("BENCH_COLDSTART_RUNS", "15"))
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

# The child prints one JSON line per phase and waits for the parent (which reads the emulator's request count in
# between) before the next phase. The parent sends the message body after the import phases.
CHILD = """
import json, sys, time

def report(**fields):
    print(json.dumps(fields), flush=True)
    sys.stdin.readline()

side = sys.argv[1]
started, started_cpu = time.perf_counter(), time.process_time()
if side == "ours":
    import functions.aws as framework
    from functions.target import load_runner
    framework_done, framework_cpu = time.perf_counter(), time.process_time()
    report(phase="framework", seconds=framework_done - started, cpu_seconds=framework_cpu - started_cpu)
    load_runner()  # the user's module, imported as the handler's first invocation would
    handle = framework.consume
else:
    import encord_agents.tasks
    framework_done, framework_cpu = time.perf_counter(), time.process_time()
    report(phase="framework", seconds=framework_done - started, cpu_seconds=framework_cpu - started_cpu)
    import bench_theirs_agents as agents
    handle = agents.handler
user_done, user_cpu = time.perf_counter(), time.process_time()
print(json.dumps({"phase": "user", "seconds": user_done - framework_done, "cpu_seconds": user_cpu - framework_cpu}),
      flush=True)
body = sys.stdin.readline().strip()
from awslambdaric.lambda_context import LambdaContext
context = LambdaContext("req", None, None, int((time.time() + 60) * 1000), "arn:aws:lambda:bench")
event = {"Records": [{"messageId": "m1", "receiptHandle": "r", "body": body,
          "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
          "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q", "awsRegion": "us-east-1"}]}
t0, t0_cpu = time.perf_counter(), time.process_time()
result = handle(event, context)
print(json.dumps({"phase": "first_message", "seconds": time.perf_counter() - t0,
                  "cpu_seconds": time.process_time() - t0_cpu, "result": str(result)[:200]}), flush=True)
"""


@dataclass(frozen=True, slots=True)
class Sample:
    framework_s: float
    framework_requests: int
    user_s: float
    user_requests: int
    first_message_s: float
    first_message_requests: int
    moved: bool
    framework_cpu_s: float
    user_cpu_s: float
    first_message_cpu_s: float

    @property
    def import_s(self) -> float:
        return self.framework_s + self.user_s

    @property
    def total_s(self) -> float:
        return self.import_s + self.first_message_s

    @property
    def import_cpu_s(self) -> float:
        return self.framework_cpu_s + self.user_cpu_s

    @property
    def total_cpu_s(self) -> float:
        return self.import_cpu_s + self.first_message_cpu_s


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


def _phase(process: subprocess.Popen[str], name: str) -> dict[str, object]:
    assert process.stdout is not None
    # The handler writes its own JSON lines to stdout too (Powertools logs, EMF metrics): skip to the phase line.
    for line in process.stdout:
        try:
            fields = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(fields, dict) and "phase" in fields:
            if fields["phase"] == name:
                return fields
            break
    _, stderr = process.communicate(timeout=60)
    raise RuntimeError(f"child failed before its {name} phase: {stderr[-2000:]}")


def _send(process: subprocess.Popen[str], line: str = "") -> None:
    assert process.stdin is not None
    process.stdin.write(line + "\n")
    process.stdin.flush()


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
    framework = _phase(process, "framework")
    framework_requests = emu.requests()
    _send(process)
    user = _phase(process, "user")
    user_requests = emu.requests() - framework_requests
    _send(process, body)
    first = _phase(process, "first_message")
    process.communicate(timeout=60)
    return Sample(
        framework_s=float(str(framework["seconds"])),
        framework_requests=framework_requests,
        user_s=float(str(user["seconds"])),
        user_requests=user_requests,
        first_message_s=float(str(first["seconds"])),
        first_message_requests=emu.requests() - framework_requests - user_requests,
        moved=emu.state.task_stage(task_uuid) == "Annotate",
        framework_cpu_s=float(str(framework["cpu_seconds"])),
        user_cpu_s=float(str(user["cpu_seconds"])),
        first_message_cpu_s=float(str(first["cpu_seconds"])),
    )


def _seed(tasks: int) -> dict[str, Any]:
    """The demo project with `tasks` small images waiting in pre-label (one fresh task per cold process)."""
    seed: dict[str, Any] = yaml.safe_load(DEMO_SEED.read_text())
    seed["projects"][0]["data"] = [
        {
            "type": "image",
            "title": "bench-{i:03d}.png",
            "count": tasks,
            "generate": {"width": 32, "height": 32, "brightness": "bright", "seed": 1},
        }
    ]
    return seed


def measure(runs: int = RUNS) -> dict[str, list[Sample]]:
    with run_emulator(_seed(2 * runs)) as emu, tempfile.TemporaryDirectory(prefix="bench-coldstart-") as tmp:
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
        samples: dict[str, list[Sample]] = {OURS: [], THEIRS: []}
        for run in range(runs):
            ours_body, _, ours_task = bodies[2 * run]
            _, theirs_body, theirs_task = bodies[2 * run + 1]
            jobs = [(OURS, "ours", ours_body, ours_task), (THEIRS, "theirs", theirs_body, theirs_task)]
            # Swap who goes first every run: a burst of load from the other users of the machine then lands on
            # both sides alike, and neither always inherits the other's warm page cache.
            for label, side, body, task in jobs if run % 2 == 0 else reversed(jobs):
                samples[label].append(_run_child(side, body, task, emu, env))
        return samples


def _ms(samples: list[Sample], attribute: str) -> float:
    return statistics.median(float(getattr(sample, attribute)) for sample in samples) * 1000


def _requests(samples: list[Sample], attribute: str) -> int:
    return max(int(getattr(sample, attribute)) for sample in samples)


def _cell(runs: list[Sample], phase: str, *, cpu: bool, requests: str | None = None) -> str:
    text = f"{_ms(runs, phase + ('_cpu_s' if cpu else '_s')):.0f}"
    return text if cpu or requests is None else f"{text} ({_requests(runs, requests)}r)"


def _table(samples: dict[str, list[Sample]], *, cpu: bool) -> None:
    header = ("framework", "user module", "import", "1st message", "total", "min total")
    print(f"{'CPU time' if cpu else 'wall time':14}" + "".join(f"{h:>13}" for h in header) + ("" if cpu else "  moved"))
    for side, runs in samples.items():
        cells = [
            _cell(runs, "framework", cpu=cpu, requests="framework_requests"),
            _cell(runs, "user", cpu=cpu, requests="user_requests"),
            _cell(runs, "import", cpu=cpu),
            _cell(runs, "first_message", cpu=cpu, requests="first_message_requests"),
            _cell(runs, "total", cpu=cpu),
            f"{min(s.total_cpu_s if cpu else s.total_s for s in runs) * 1000:.0f}",
        ]
        moved = "" if cpu else f"  {sum(s.moved for s in runs)}/{len(runs)}"
        print(f"{side:14}" + "".join(f"{c:>13}" for c in cells) + moved)


def main() -> None:
    samples = measure()
    print(f"cold processes per side: {RUNS}, alternating; medians in ms, (Nr) = max Encord requests in that phase")
    print("one SQS record with one task, no media; CPU time is the child's own, insensitive to other load")
    _table(samples, cpu=False)
    _table(samples, cpu=True)
    for label, suffix in (("wall", "_s"), ("CPU", "_cpu_s")):
        ours, theirs = _ms(samples[OURS], "total" + suffix), _ms(samples[THEIRS], "total" + suffix)
        print(
            f"import + first message, {label} (median of per-process sums): {OURS} {ours:.0f} ms, "
            f"{THEIRS} {theirs:.0f} ms ({ours / theirs:.2f}x)"
        )
    ours, theirs = _ms(samples[OURS], "total_s"), _ms(samples[THEIRS], "total_s")
    no_requests = all(s.framework_requests == 0 and s.user_requests == 0 for s in samples[OURS])
    print(
        f"target: {OURS} no slower (import + first message, wall) -> {'met' if ours <= theirs else 'NOT met'}; "
        f"no Encord request at import -> {'met' if no_requests else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
