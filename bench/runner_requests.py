"""Encord requests and wall time per batch, runner-core vs encord-agents 0.2.10, plus import cost.

One run, same emulator, same seed, same agent logic (label the row, set a priority, follow a pathway), 20 ms of
injected latency per Encord request. Both runners are warm (project already resolved) when a batch is measured;
the cold-start cost is reported separately. Run: `python -m bench runner_requests`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from encord.objects.classification import Classification
from encord.objects.ontology_labels_impl import LabelRowV2
from encord.objects.options import Option
from encord.workflow.stages.agent import AgentStage

from encord_emulator.testing import RunningEmulator, run_emulator

PROJECT_HASH = "be4c0000-0000-4000-8000-000000000001"
STAGE = "pre-label"
BATCH_SIZES = (1, 10, 50)
LATENCY_MS = 20
IMPORT_REPEATS = 9

SEED: dict[str, Any] = {
    "version": 1,
    "projects": [
        {
            "project_hash": PROJECT_HASH,
            "title": "runner benchmark",
            "ontology": {"classifications": [{"name": "brightness", "type": "radio", "options": ["bright", "dark"]}]},
            "stages": [
                {"title": STAGE, "type": "agent", "pathways": {"annotate": "Annotate", "skip": "Done"}},
                {"title": "second", "type": "agent", "pathways": {"accept": "Done"}},
                {"title": "Annotate", "type": "annotation"},
                {"title": "Done", "type": "done"},
            ],
            "data": [
                {
                    "type": "image",
                    "title": "img-{i:03d}.png",
                    "count": max(BATCH_SIZES),
                    "stage": STAGE,
                    "generate": {"width": 16, "height": 12, "brightness": "bright", "seed": 7},
                }
            ],
        }
    ],
}


def label(label_row: LabelRowV2) -> None:
    """The agents' shared work: answer the brightness classification."""
    classification = label_row.ontology_structure.get_child_by_title("brightness", type_=Classification)
    instance = classification.create_instance()
    instance.set_answer(classification.get_child_by_title("bright", type_=Option))
    instance.set_for_frames(0)
    label_row.add_classification_instance(instance)


def ours(emu: RunningEmulator) -> Callable[[list[str]], str]:
    from runner_core import QueueRunner, TaskAgentReturnStruct

    runner = QueueRunner(PROJECT_HASH, user_client=emu.client())

    @runner.stage(STAGE)
    def agent(lr: LabelRowV2) -> TaskAgentReturnStruct:
        label(lr)
        return TaskAgentReturnStruct(pathway="annotate", label_row=lr, label_row_priority=0.5)

    runner.validate()  # warm: project, workflow and stage resolved once per process
    return agent


def theirs(emu: RunningEmulator) -> Callable[[list[str]], str]:
    from encord_agents.tasks import QueueRunner
    from encord_agents.tasks.models import TaskAgentReturnStruct

    runner = QueueRunner(PROJECT_HASH, user_client=emu.client())  # fetches the project here

    @runner.stage(STAGE)
    def agent(lr: LabelRowV2) -> TaskAgentReturnStruct:
        label(lr)
        return TaskAgentReturnStruct(pathway="annotate", label_row=lr, label_row_priority=0.5)

    return agent


@dataclass
class Measure:
    requests: int
    seconds: float
    moved: int


def measure(emu: RunningEmulator, build: Callable[[RunningEmulator], Callable[[list[str]], str]], n: int) -> Measure:
    emu.reset_state()
    emu.set_faults()
    client = emu.client()
    stage = client.get_project(PROJECT_HASH).workflow.get_stage(name=STAGE, type_=AgentStage)
    bodies = [task.model_dump_json() for task in list(stage.get_tasks())[:n]]
    wrapped = build(emu)
    emu.set_faults(latency_ms=LATENCY_MS)
    emu.reset_counters()
    started = time.perf_counter()
    wrapped(bodies)
    seconds = time.perf_counter() - started
    requests = emu.requests()
    emu.set_faults()
    moved = len(emu.state.tasks_in_stage(PROJECT_HASH, "Annotate"))
    return Measure(requests=requests, seconds=seconds, moved=moved)


def cold_requests(emu: RunningEmulator, build: Callable[[RunningEmulator], Any]) -> int:
    emu.reset_state()
    emu.reset_counters()
    build(emu)
    return emu.requests()


# --- import time -----------------------------------------------------------------------------------------------

AGENT_MODULE = """
from __future__ import annotations

from encord.objects.ontology_labels_impl import LabelRowV2
from encord.workflow.stages.agent import AgentTask

from runner_core import QueueRunner, TaskAgentReturnStruct

runner = QueueRunner(project_hash="{project}")


@runner.stage("pre-label")
def pre_label(lr: LabelRowV2) -> TaskAgentReturnStruct:
    return TaskAgentReturnStruct(pathway="annotate", label_row=lr)


@runner.stage("second")
def second(task: AgentTask) -> str:
    return "accept"
"""

PROBE = """
import socket, sys, time
attempts = []
real_connect = socket.socket.connect
def connect(self, address):
    attempts.append(address)
    return real_connect(self, address)
socket.socket.connect = connect
started = time.perf_counter()
import {module}
print(time.perf_counter() - started, len(attempts))
"""


def import_once(module: str, *, path: Path, env: dict[str, str]) -> tuple[float, int]:
    """Seconds to import `module` in a fresh interpreter, and the connections that import attempted."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PROBE.format(module=module))],
        check=True,
        capture_output=True,
        text=True,
        cwd=path,
        env={**env, "PYTHONPATH": f"{path}{os.pathsep}{env.get('PYTHONPATH', '')}"},
    ).stdout.split()
    return float(out[0]), int(out[1])


def import_medians(path: Path, env: dict[str, str]) -> tuple[float, float, int]:
    """Medians for `import encord.user_client` and for the agent module, interleaved so load drift hits both."""
    baseline, agent, connections = [], [], 0
    for _ in range(IMPORT_REPEATS):
        baseline.append(import_once("encord.user_client", path=path, env=env)[0])
        seconds, attempted = import_once("two_stage_agent", path=path, env=env)
        agent.append(seconds)
        connections = max(connections, attempted)
    return statistics.median(baseline), statistics.median(agent), connections


def main() -> None:
    print(f"batches through the wrapped function, {LATENCY_MS} ms latency per Encord request (warm runners)")
    print(f"{'tasks':>5}  {'runner':<16} {'requests':>8} {'req/task':>8} {'wall s':>7} {'moved':>5}")
    rows: list[tuple[int, Measure, Measure]] = []
    with run_emulator(SEED) as emu:
        for n in BATCH_SIZES:
            mine, reference = measure(emu, ours, n), measure(emu, theirs, n)
            rows.append((n, mine, reference))
            for name, m in (("runner-core", mine), ("encord-agents", reference)):
                print(f"{n:>5}  {name:<16} {m.requests:>8} {m.requests / n:>8.2f} {m.seconds:>7.3f} {m.moved:>5}")
        print(
            f"cold start (runner construction + first resolution): runner-core "
            f"{cold_requests(emu, ours)} requests (at first use), encord-agents {cold_requests(emu, theirs)} "
            f"requests (at construction)"
        )
    for n, mine, reference in rows:
        ok = mine.requests <= reference.requests and mine.seconds <= reference.seconds
        print(f"target n={n}: requests and wall time <= encord-agents: {'met' if ok else 'NOT met'}")

    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        path = Path(tmp)
        (path / "two_stage_agent.py").write_text(AGENT_MODULE.format(project=PROJECT_HASH))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ENCORD_")}
        baseline, agent_module, connections = import_medians(path, env)
    ratio = agent_module / baseline
    print(f"import (median of {IMPORT_REPEATS} fresh interpreters):")
    print(f"  import encord.user_client              {baseline * 1000:7.1f} ms")
    print(f"  module with a two-stage QueueRunner    {agent_module * 1000:7.1f} ms  ({ratio:.2f}x; target <= 1.10x)")
    print(f"  connections attempted by that import   {connections} (no key, no domain set)")
    print(json.dumps({"batches": [[n, m.__dict__, r.__dict__] for n, m, r in rows], "import_ratio": ratio}))


if __name__ == "__main__":
    main()
