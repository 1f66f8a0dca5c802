"""Production-shaped traffic for the ledger's acceptance tests: a slow, counting, non-idempotent agent, N consumer
"instances" (each its own QueueRunner, as separate Lambda / Cloud Run instances are) pulling from a real queue, and
the real producer run again and again while tasks are queued and in flight."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from encord.objects.classification import Classification
from encord.objects.ontology_labels_impl import LabelRowV2
from encord.objects.options import Option
from encord.workflow.stages.agent import AgentTask

from functions.consumer import process_messages
from runner_core import QueueRunner, TaskAgentReturnStruct
from runner_core.disposition import Decision, Disposition
from runner_core.outcomes import QueueMessage

STAGE = "pre-label"
AGENT_SECONDS = 0.3  # like a model's inference


@dataclass
class AgentRuns:
    """Counts every agent run per task (across all consumer instances)."""

    runs: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.runs.values())

    def build_runner(self, project_hash: str) -> QueueRunner:
        """One consumer instance. The agent is not idempotent: every run adds one more answer to the label row."""
        runner = QueueRunner(project_hash=project_hash)

        @runner.stage(STAGE)
        def slow_counting_agent(task: AgentTask, label_row: LabelRowV2) -> TaskAgentReturnStruct:
            with self.lock:
                self.runs[str(task.uuid)] += 1
            time.sleep(AGENT_SECONDS)
            classification = label_row.ontology_structure.get_child_by_title("brightness", type_=Classification)
            bright = task.data_title.startswith("bright")
            instance = classification.create_instance()
            instance.set_answer(classification.get_child_by_title("bright" if bright else "dark", type_=Option))
            instance.set_for_frames(0)
            label_row.add_classification_instance(instance)
            return TaskAgentReturnStruct(pathway="annotate" if bright else "skip", label_row=label_row)

        return runner


class Consumers:
    """`count` threads, each an instance with its own runner, looping receive -> process -> ack / retry."""

    def __init__(
        self,
        *,
        count: int,
        runners: Callable[[], QueueRunner],
        receive: Callable[[], list[tuple[QueueMessage, Any]]],
        settle: Callable[[Any, Decision], None],
    ) -> None:
        self._stop = threading.Event()
        self._errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._loop, args=(runners(), receive, settle), daemon=True) for _ in range(count)
        ]

    def _loop(
        self,
        runner: QueueRunner,
        receive: Callable[[], list[tuple[QueueMessage, Any]]],
        settle: Callable[[Any, Decision], None],
    ) -> None:
        import logging

        logger = logging.getLogger("tests.consumer")
        try:
            while not self._stop.is_set():
                received = receive()
                if not received:
                    time.sleep(0.05)
                    continue
                messages = [message for message, _ in received]
                verdicts = process_messages(
                    runner, messages, deadline=time.monotonic() + 20, logger=logger, cold_start=False
                )
                for message, handle in received:
                    settle(handle, verdicts[message.message_id])
        except BaseException as exc:  # surfaced by stop()
            self._errors.append(exc)

    def __enter__(self) -> Consumers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        if self._errors:
            raise self._errors[0]


def acked(decision: Decision) -> bool:
    return decision.disposition is Disposition.ACK


def answers_per_task(emu: Any) -> dict[str, int]:
    """How many brightness answers each data unit's label row holds (one per agent run that saved), read back
    through the real SDK."""
    from deploy.local.encord import classification_answers

    answers = classification_answers(
        url=emu.url, key_file=emu.key_file, project_hash=emu.project_hash, title="brightness"
    )
    return {data_hash: len(found) for data_hash, found in answers.items()}
