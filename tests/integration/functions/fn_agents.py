"""The agents the entrypoint tests deploy (RUNNER_TARGET=fn_agents:runner): no media, so they run fast.

Routing by title on the demo seed: `bright-*` -> annotate, `dark-*` -> skip; `dark-00.png` raises (a retryable
agent failure), `bright-11.png` returns a pathway the stage does not have (a permanent failure).
"""

from __future__ import annotations

import os

from encord.workflow.stages.agent import AgentTask

from runner_core import QueueRunner

DEMO_PROJECT_HASH = "7e3b9c1a-4d2f-4a8e-9b6c-1f0d2e3a4b5c"
STAGE = "pre-label"
RAISES_ON = "dark-00.png"
# How RUNNER_TARGET names this module (it is imported as part of the tests package).
TARGET = f"{__name__}:runner"
BAD_PATHWAY_ON = "bright-11.png"


def route(task: AgentTask) -> str:
    if task.data_title == RAISES_ON:
        raise RuntimeError("agent failed on purpose")
    if task.data_title == BAD_PATHWAY_ON:
        return "no-such-pathway"
    return "annotate" if task.data_title.startswith("bright") else "skip"


def build_runner(project_hash: str = DEMO_PROJECT_HASH, *, failure_pathway: str | None = None) -> QueueRunner:
    runner = QueueRunner(project_hash=project_hash)
    runner.stage(STAGE, failure_pathway=failure_pathway)(route)
    return runner


runner = build_runner(os.environ.get("FN_AGENTS_PROJECT_HASH", DEMO_PROJECT_HASH))
