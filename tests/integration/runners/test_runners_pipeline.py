"""The batch pipeline (runner_core.runners.pipeline) against the emulator: its request budget and its deadline check."""

from __future__ import annotations

import time

from encord.objects.ontology_labels_impl import LabelRowV2
from encord.storage import StorageItem

from runner_core import (
    Outcome,
    QueueMessage,
    QueueRunner,
    TaskAgentReturnStruct,
)
from runner_core.disposition import Disposition, decide
from tests.integration.runners.rc_env import PRE_LABEL, Env, EnvFactory, add_brightness, completion_result


def test_a_deadline_too_close_costs_no_encord_request(env: Env) -> None:
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    def agent(lr: LabelRowV2) -> str:
        return "annotate"

    body = env.envelope(env.tasks()[:1])
    runner.validate()
    env.emu.reset_counters()
    (result,) = runner.process([QueueMessage("m", body)], deadline=time.monotonic() + 0.5)
    assert result.tasks[0].error == "deadline"
    assert decide(result).disposition is Disposition.RETRY
    assert env.emu.requests() == 0, env.emu.request_counters()


def test_batch_of_50_costs_at_most_8_requests(env_factory: EnvFactory) -> None:
    env = env_factory(images=50)
    runner = QueueRunner(env.project_hash, user_client=env.client)

    @runner.stage(PRE_LABEL)
    def everything(lr: LabelRowV2, item: StorageItem) -> TaskAgentReturnStruct:
        add_brightness(lr, "bright")
        return TaskAgentReturnStruct(pathway="annotate", label_row=lr, label_row_priority=0.25)

    tasks = env.tasks()
    assert len(tasks) == 50
    body = env.envelope(tasks)
    runner.validate()  # the project is resolved once per process (2 requests), not per batch
    env.emu.reset_counters()
    result = completion_result(everything(body))
    requests = env.emu.requests()
    assert [r.outcome for r in result.results] == [Outcome.MOVED] * 50
    assert requests <= 8, env.emu.request_counters()
    routes = [e["route"] for e in env.emu.app.log.snapshot()["entries"] if e["kind"] == "api"]
    saves = [i for i, route in enumerate(routes) if "labelrow.POST" in route or route.endswith("/priorities")]
    moves = [i for i, route in enumerate(routes) if route.endswith("/actions")]
    assert len(saves) == 2
    assert len(moves) == 1
    assert max(saves) < moves[0]  # labels and priorities are saved before any task moves
    assert env.emu.state.tasks_in_stage(env.project_hash, PRE_LABEL) == []
    assert all(env.answers(t) == ["bright"] for t in tasks)
