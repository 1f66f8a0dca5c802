"""Operations costs: how fast `dlq redrive` moves dead letters (SQS on moto_server, Pub/Sub on Google's emulator),
how long `dlq show` takes to read them, and what the consumer's metrics cost per batch (EMF through Powertools).

Run: `python -m bench dlq` (`BENCH_DLQ_MESSAGES=N`, default 1000; SQS uses a fifth of it, since moto_server's
receive is slow and grows with the queue). The emulators run on this machine, so wall times measure them and our
round trips, not the clouds' latency; SQS API calls per message are the figure that carries over to AWS.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from deploy.local import components
from deploy.local.errors import ComponentUnavailableError
from deploy.local.processes import ManagedProcess
from deploy.local.pubsub import clients, fresh_project_id, publish, pull_all
from deploy.local.sqs import create_queues, queue_depth, sqs_client
from deploy.ops.pubsub_dlq import PubSubDeadLetters
from deploy.ops.redrive import Pacer
from deploy.ops.sqs_dlq import SqsDeadLetters
from functions import _emf
from functions._metrics import tally
from runner_core.outcomes import MessageResult, Outcome, TaskOutcome

MESSAGES = int(os.environ.get("BENCH_DLQ_MESSAGES", "1000"))


def _bodies(count: int) -> list[str]:
    project, stage = str(uuid.uuid4()), str(uuid.uuid4())
    task = {"uuid": "", "data_hash": str(uuid.uuid4()), "data_title": "frame.png"}
    return [
        json.dumps(
            {"version": 1, "project_hash": project, "stage_uuid": stage, "tasks": [{**task, "uuid": str(uuid.uuid4())}]}
        )
        for _ in range(count)
    ]


def _report(what: str, count: int, seconds: float, calls: int | None = None) -> None:
    per = f"  {calls / count:.2f} API calls/msg" if calls is not None else ""
    print(f"{what:<34} {count:>6} messages  {seconds:6.2f} s  {count / seconds:8.0f} msg/s{per}", flush=True)


class _Calls:
    """Counts the SQS API requests boto3 makes (botocore's before-call event)."""

    def __init__(self, client: Any) -> None:
        self.count = 0
        client.meta.events.register("before-call.sqs.*", self._seen)

    def _seen(self, **_: Any) -> None:
        self.count += 1

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


def bench_sqs(log_dir: Path) -> None:
    with ManagedProcess(components.moto_server(), log_dir=log_dir) as moto:
        assert moto.url is not None
        sqs = sqs_client(moto.url)
        count = max(10, MESSAGES // 5)
        queues = create_queues(sqs, name=f"bench-{uuid.uuid4().hex[:6]}")
        entries = [
            {
                "Id": str(i),
                "MessageBody": body,
                "MessageAttributes": {"runner_failure_reason": {"DataType": "String", "StringValue": "boom"}},
            }
            for i, body in enumerate(_bodies(count))
        ]
        for start in range(0, len(entries), 10):
            sqs.send_message_batch(QueueUrl=queues.dlq_url, Entries=entries[start : start + 10])
        source = SqsDeadLetters(client=sqs, dlq_url=queues.dlq_url, queue_url=queues.queue_url)
        calls = _Calls(sqs)
        started = time.perf_counter()
        peeked = source.peek(limit=count)
        _report("SQS dlq show (read, released)", len(peeked), time.perf_counter() - started, calls.take())
        started = time.perf_counter()
        report = source.redrive(
            limit=None, batch_size=10, pacer=Pacer(None), keep_history=False, progress=lambda r: None
        )
        _report("SQS dlq redrive", report.moved, time.perf_counter() - started, calls.take())
        assert report.moved == count
        assert queue_depth(sqs, queues.dlq_url) == 0


def bench_pubsub(log_dir: Path) -> None:
    try:
        spec = components.pubsub_emulator()
    except ComponentUnavailableError as exc:
        print(f"Pub/Sub skipped: {exc}")
        return
    with ManagedProcess(spec, log_dir=log_dir) as emulator:
        assert emulator.url is not None
        publisher, subscriber = clients(emulator.url)
        project = fresh_project_id()
        topic, dead = publisher.topic_path(project, "work"), publisher.topic_path(project, "dead")
        work_sub, dead_sub = (
            subscriber.subscription_path(project, "work"),
            subscriber.subscription_path(project, "dead"),
        )
        for name in (topic, dead):
            publisher.create_topic(request={"name": name})
        subscriber.create_subscription(request={"name": work_sub, "topic": topic, "ack_deadline_seconds": 60})
        subscriber.create_subscription(request={"name": dead_sub, "topic": dead, "ack_deadline_seconds": 60})
        publish(publisher, dead, _bodies(MESSAGES), attributes={"runner_failure_reason": "boom"})
        source = PubSubDeadLetters(subscriber=subscriber, publisher=publisher, subscription=dead_sub, topic=topic)
        started = time.perf_counter()
        peeked = source.peek(limit=MESSAGES)
        _report("Pub/Sub dlq show (read, nacked)", len(peeked), time.perf_counter() - started)
        started = time.perf_counter()
        report = source.redrive(
            limit=None, batch_size=10, pacer=Pacer(None), keep_history=False, progress=lambda r: None
        )
        _report("Pub/Sub dlq redrive", report.moved, time.perf_counter() - started)
        assert report.moved >= MESSAGES
        assert len(pull_all(subscriber, work_sub)) >= MESSAGES


def bench_emf() -> None:
    """Cost of the metrics of one 10-task batch (two stages, two pathways), EMF lines written to a buffer."""
    stages = [uuid.uuid4(), uuid.uuid4()]
    results = [
        MessageResult(
            f"m{i}",
            (
                TaskOutcome(
                    task_uuid=uuid.uuid4(),
                    data_hash=uuid.uuid4(),
                    project_hash="p",
                    stage_uuid=stages[i % 2],
                    outcome=Outcome.MOVED,
                    pathway_name="annotate" if i % 3 else "skip",
                    duration_s=0.1,
                    encord_requests=4,
                ),
            ),
        )
        for i in range(10)
    ]
    timings = []
    for _ in range(200):
        with contextlib.redirect_stdout(io.StringIO()):
            started = time.perf_counter()
            _emf.emit_batch(tally(results))
            timings.append(time.perf_counter() - started)
    print(f"EMF metrics of a 10-task batch       median {statistics.median(timings) * 1e3:.2f} ms (200 runs)")


def main() -> None:
    with tempfile.TemporaryDirectory() as logs:
        bench_sqs(Path(logs))
        bench_pubsub(Path(logs))
    bench_emf()


if __name__ == "__main__":
    main()
