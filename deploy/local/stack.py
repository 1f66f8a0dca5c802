"""The local stack as a Python API: emulators, the two cloud paths, and who delivers messages to the functions.

```python
with Stack(run_dir=run_dir) as stack:
    encord = stack.encord_emulator(seed=Path("examples/demo/project.yaml"))
    aws = stack.aws_path(encord=encord, config=AwsPathConfig(target="examples.demo.agent:runner"))
    aws.dispatch()                 # functions.aws.dispatch in its own RIE enqueues the waiting tasks
    aws.wait_drained(timeout_s=60)
```
Everything started is stopped (process groups, threads) when the `with` block ends, in reverse order.

Over ~400 lines on purpose for now: `Stack`, `AwsPath` and `GcpPath` share the run directory, the process helpers
and the dead-letter reader, and three concurrent branches (task ledger, GCP parity, local stack) edit them; the
split into stack/aws_path/gcp_path modules is left for after those land (issue 10).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from deploy.local import components
from deploy.local.dynamodb import create_ledger_table
from deploy.local.errors import LocalStackError
from deploy.local.processes import ManagedProcess, ProcessSpec, process_start_time
from deploy.local.pubsub import (
    DeliveryMode,
    PubSubPushBridge,
    PubSubResources,
    clients,
    create_resources,
    emulator_host,
    fresh_project_id,
    publish,
    pull_all,
)
from deploy.local.sqs import (
    RieInvoker,
    SqsEventSourcePoller,
    SqsQueues,
    aws_env,
    create_queues,
    drain_queue,
    queue_depth,
    sqs_client,
)
from functions.publishers.dead_letter import FAILURE_REASON

RUNS_ROOT = Path(".runner-core") / "runs"  # relative to where the command runs
DEFAULT_TARGET = "examples.demo.agent:runner"
# The attribute the consumers put on what they dead-letter (named once, beside the dead-letter message).
FAILURE_REASON_ATTRIBUTE = FAILURE_REASON


def new_run_dir(root: Path = RUNS_ROOT) -> Path:
    """A fresh folder for one run's logs, keys and report: `<root>/<UTC timestamp>-<short id>`."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = root.resolve() / f"{stamp}-{uuid.uuid4().hex[:6]}"
    path.mkdir(parents=True, exist_ok=False)
    return path


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that reached the dead-letter queue / topic, with the reason the function gave (if it gave one).

    Messages the transport moved itself (maxReceiveCount / max_delivery_attempts exhausted) carry no reason from the
    function; `reason` then says which limit moved them.
    """

    body: bytes
    reason: str | None
    attributes: dict[str, str]


@dataclass(frozen=True, slots=True)
class EncordAccess:
    """Where the functions reach the Encord API (the emulator locally) and the key file they sign with."""

    url: str
    key_file: Path

    def env(self) -> dict[str, str]:
        return {"ENCORD_DOMAIN": self.url, "ENCORD_SSH_KEY_FILE": str(self.key_file)}


class Stack:
    """Owns every process and delivery thread of one local run; closing it stops them all, newest first."""

    def __init__(self, *, run_dir: Path, moto_url: str | None = None, pubsub_url: str | None = None) -> None:
        """`moto_url` / `pubsub_url` reuse emulators started elsewhere (e.g. once per test session)."""
        self.run_dir = run_dir
        self.processes: list[ManagedProcess] = []
        self._closers = contextlib.ExitStack()
        self._moto_url = moto_url
        self._pubsub_url = pubsub_url
        self._firestore_url: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start(self, spec: ProcessSpec) -> ManagedProcess:
        process = ManagedProcess(spec, log_dir=self.run_dir / "logs")
        process.start()
        self.processes.append(process)
        self._closers.callback(process.stop)
        return process

    def on_close(self, callback: Callable[[], object]) -> None:
        self._closers.callback(callback)

    def close(self) -> None:
        self._closers.close()

    def __enter__(self) -> Stack:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- components ---------------------------------------------------------------------------------------------

    def encord_emulator(self, *, seed: Path, name: str = "encord-emulator") -> EncordAccess:
        key_file = self.run_dir / f"{name}.key"
        process = self.start(components.encord_emulator(seed=seed, key_out=key_file, name=name))
        assert process.url is not None
        return EncordAccess(url=process.url, key_file=key_file)

    @property
    def moto_url(self) -> str:
        if self._moto_url is None:
            process = self.start(components.moto_server())
            assert process.url is not None
            self._moto_url = process.url
        return self._moto_url

    @property
    def pubsub_url(self) -> str:
        if self._pubsub_url is None:
            process = self.start(components.pubsub_emulator())
            assert process.url is not None
            self._pubsub_url = process.url
        return self._pubsub_url

    @property
    def firestore_url(self) -> str:
        """Google's Firestore emulator (started on first use), for the GCP path's task ledger."""
        if self._firestore_url is None:
            process = self.start(components.firestore_emulator())
            assert process.url is not None
            self._firestore_url = process.url
        return self._firestore_url

    def aws_path(self, *, encord: EncordAccess, config: AwsPathConfig | None = None) -> AwsPath:
        path = AwsPath(stack=self, encord=encord, config=config or AwsPathConfig())
        path.start()
        return path

    def gcp_path(self, *, encord: EncordAccess, config: GcpPathConfig | None = None) -> GcpPath:
        path = GcpPath(stack=self, encord=encord, config=config or GcpPathConfig())
        path.start()
        return path

    def describe(self) -> list[dict[str, Any]]:
        """PIDs, ports, URLs and logs of the processes (what `local up` writes to its state file)."""
        return [
            {
                "name": p.name,
                "pid": p.pid,
                "start_time": process_start_time(p.pid),
                "url": p.url,
                "log": str(p.log_path),
            }
            for p in self.processes
        ]


# --- shared by both paths ------------------------------------------------------------------------------------------


def _function_env(*, encord: EncordAccess, target: str, max_attempts: int, extra: Mapping[str, str]) -> dict[str, str]:
    return {
        **encord.env(),
        "RUNNER_TARGET": target,
        "RUNNER_MAX_ATTEMPTS": str(max_attempts),
        "POWERTOOLS_SERVICE_NAME": "runner-core-local",
        **extra,
    }


def wait_for(condition: Callable[[], bool], *, timeout_s: float, what: str, interval_s: float = 0.25) -> None:
    """Poll `condition` until it holds; raise LocalStackError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval_s)
    raise LocalStackError(f"timed out after {timeout_s:.0f} s waiting for {what}")


# --- AWS -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AwsPathConfig:
    target: str = DEFAULT_TARGET
    fifo: bool = False
    instances: int = 2  # concurrent Lambda instances (one RIE each), like the mapping's concurrency
    batch_size: int = 10
    # None: 6x the function timeout, as the Terraform module sets, so a batch slowed by load (a cold start takes
    # seconds on a busy machine) is never redelivered to a second instance while in flight.
    visibility_timeout_s: int | None = None
    # Local-only shortcut for fast tests: the poller makes failed records visible again after this many seconds
    # instead of after the whole visibility timeout (see deploy/local/sqs.py).
    retry_delay_s: int = 2
    max_receive_count: int = 3
    function_timeout_s: int = 60
    consume_handler: str = "functions.aws.consume"
    dispatch_handler: str | None = "functions.aws.dispatch"
    # "thread": the poller runs in this process (tests, demo); "process": in its own (`local up`).
    delivery: Literal["thread", "process"] = "thread"
    extra_env: Mapping[str, str] = field(default_factory=dict)
    name: str = "agent"
    # A task ledger table on moto's DynamoDB (RUNNER_LEDGER_TABLE). Keep function_timeout_s plus the lease margin
    # below visibility_timeout_s, as in production, or a slow batch's redelivery is retried until it dead-letters.
    ledger: bool = False


# With the ledger, as in production: the function timeout plus the lease margin (15 s) below the visibility timeout.
LEDGER_AWS_CONFIG = AwsPathConfig(ledger=True, function_timeout_s=30, visibility_timeout_s=50)


class AwsPath:
    """SQS queue + DLQ on moto, the consume function in RIE instances, and the event source mapping's poller."""

    def __init__(self, *, stack: Stack, encord: EncordAccess, config: AwsPathConfig) -> None:
        self.stack = stack
        self.encord = encord
        self.config = config
        self.sqs = sqs_client(stack.moto_url)
        self.queues: SqsQueues | None = None
        self.poller: SqsEventSourcePoller | None = None
        self._dispatch_invoker: RieInvoker | None = None
        self.dead_letters: list[DeadLetter] = []
        self.log_prefix = "lambda-consume"
        self.ledger_table: str | None = None

    @property
    def function_env(self) -> dict[str, str]:
        assert self.queues is not None
        return _function_env(
            encord=self.encord,
            target=self.config.target,
            max_attempts=self.config.max_receive_count,
            extra={
                **aws_env(self.stack.moto_url),
                "RUNNER_QUEUE_URL": self.queues.queue_url,
                "RUNNER_DLQ_URL": self.queues.dlq_url,
                **({"RUNNER_LEDGER_TABLE": self.ledger_table} if self.ledger_table else {}),
                **self.config.extra_env,
            },
        )

    def start(self) -> AwsPath:
        config = self.config
        self.queues = create_queues(
            self.sqs,
            name=f"{config.name}-{uuid.uuid4().hex[:6]}",
            fifo=config.fifo,
            visibility_timeout_s=config.visibility_timeout_s or 6 * config.function_timeout_s,
            max_receive_count=config.max_receive_count,
        )
        if config.ledger:
            queue_name = self.queues.queue_url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".fifo")
            self.ledger_table = create_ledger_table(self.stack.moto_url, name=f"{queue_name}-ledger")
        invokers: list[RieInvoker] = []
        for index in range(config.instances):
            process = self.stack.start(
                components.lambda_rie(
                    handler=config.consume_handler,
                    env=self.function_env,
                    timeout_s=config.function_timeout_s,
                    name=f"lambda-consume-{index}",
                )
            )
            assert process.url is not None
            invokers.append(RieInvoker(process.url, timeout_s=config.function_timeout_s + 5))
        if config.delivery == "process":
            rie_args = [arg for invoker in invokers for arg in ("--rie", invoker.base_url)]
            self.stack.start(
                components.deliverer(
                    name="sqs-event-source-mapping",
                    args=[
                        "sqs", "--endpoint", self.stack.moto_url, "--queue-url", self.queues.queue_url,
                        "--queue-arn", self.queues.queue_arn, "--batch-size", str(config.batch_size),
                        "--retry-delay", str(config.retry_delay_s), *rie_args,
                    ],
                )
            )  # fmt: skip
            return self
        self.poller = SqsEventSourcePoller(
            sqs=self.sqs,
            queues=self.queues,
            invokers=invokers,
            batch_size=config.batch_size,
            retry_delay_s=config.retry_delay_s,
        ).start()
        self.stack.on_close(self.poller.stop)
        return self

    def start_dispatcher(self) -> str:
        """Start the producer function (functions.aws.dispatch) in its own RIE; returns its invocation URL."""
        if self.config.dispatch_handler is None:
            raise LocalStackError("this path has no dispatch handler")
        if self._dispatch_invoker is None:
            process = self.stack.start(
                components.lambda_rie(
                    handler=self.config.dispatch_handler,
                    env=self.function_env,
                    timeout_s=self.config.function_timeout_s,
                    function_name="runner-core-dispatch",
                    name="lambda-dispatch",
                )
            )
            assert process.url is not None
            self._dispatch_invoker = RieInvoker(process.url, timeout_s=self.config.function_timeout_s + 5)
        return components.rie_invocation_url(self._dispatch_invoker.base_url)

    def dispatch(self) -> Any:
        """Invoke the producer function with a scheduled-event payload (EventBridge's), as the schedule would."""
        self.start_dispatcher()
        assert self._dispatch_invoker is not None
        scheduled = {"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
        invocation = self._dispatch_invoker(scheduled)
        if invocation.function_error is not None:
            raise LocalStackError(f"dispatch failed: {invocation.function_error}: {invocation.payload}")
        return invocation.payload

    def send(self, bodies: Sequence[str], *, group_ids: Sequence[str] | None = None) -> list[str]:
        """Put raw bodies on the queue (tests plant bad messages this way). FIFO needs one group id per body."""
        assert self.queues is not None
        ids: list[str] = []
        for index, body in enumerate(bodies):
            request: dict[str, Any] = {"QueueUrl": self.queues.queue_url, "MessageBody": body}
            if self.queues.fifo:
                group = group_ids[index] if group_ids else "default"
                request.update(MessageGroupId=group, MessageDeduplicationId=uuid.uuid4().hex)
            ids.append(str(self.sqs.send_message(**request)["MessageId"]))
        return ids

    def depth(self) -> int:
        assert self.queues is not None
        return queue_depth(self.sqs, self.queues.queue_url)

    def collect_dead_letters(self) -> list[DeadLetter]:
        """Everything that reached the DLQ so far (accumulated across calls)."""
        assert self.queues is not None
        for message in drain_queue(self.sqs, self.queues.dlq_url, wait_s=0):
            attributes = {
                name: str(value.get("StringValue", "")) for name, value in message.get("MessageAttributes", {}).items()
            }
            reason = attributes.get(FAILURE_REASON_ATTRIBUTE) or (
                f"receive count exceeded {self.config.max_receive_count} (redrive policy)"
            )
            self.dead_letters.append(DeadLetter(body=message["Body"].encode(), reason=reason, attributes=attributes))
        return self.dead_letters

    def wait_drained(self, *, timeout_s: float = 120.0, settle_s: float = 0.5) -> None:
        """Until the queue holds nothing visible or in flight (twice in a row, `settle_s` apart)."""

        def drained() -> bool:
            if self.depth():
                return False
            time.sleep(settle_s)
            return self.depth() == 0

        wait_for(drained, timeout_s=timeout_s, what="the SQS queue to drain")


# --- GCP -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GcpPathConfig:
    target: str = DEFAULT_TARGET
    # push: functions.gcp.consume_http gets the raw body of the module's push subscription, as the Terraform module
    # deploys it; cloudevent: functions.gcp.consume gets the binary CloudEvent an Eventarc trigger sends.
    push_format: DeliveryMode = "push"
    dispatch_target: str | None = "functions.gcp:dispatch"
    concurrency: int = 4  # bridge workers = concurrent requests to the function
    max_delivery_attempts: int = 5
    min_backoff_s: float = 0.2
    max_backoff_s: float = 2.0
    ack_deadline_s: int = 60
    delivery: Literal["thread", "process"] = "thread"
    extra_env: Mapping[str, str] = field(default_factory=dict)
    name: str = "agent"
    # A task ledger collection on Google's Firestore emulator (RUNNER_LEDGER_COLLECTION).
    ledger: bool = False


class GcpPath:
    """Topic + subscription (dead-letter and retry policies) on the Pub/Sub emulator, the consumer under
    functions-framework, and the bridge that delivers to it what the push subscription (or Eventarc) sends."""

    def __init__(self, *, stack: Stack, encord: EncordAccess, config: GcpPathConfig) -> None:
        self.stack = stack
        self.encord = encord
        self.config = config
        self.publisher, self.subscriber = clients(stack.pubsub_url)
        self.resources: PubSubResources | None = None
        self.bridge: PubSubPushBridge | None = None
        self.function_url: str | None = None
        self._dispatch_url: str | None = None
        self.dead_letters: list[DeadLetter] = []
        self.log_prefix = "functions-framework-consume"

    @property
    def function_env(self) -> dict[str, str]:
        assert self.resources is not None
        return _function_env(
            encord=self.encord,
            target=self.config.target,
            max_attempts=self.config.max_delivery_attempts,
            extra={
                "PUBSUB_EMULATOR_HOST": emulator_host(self.stack.pubsub_url),
                "GOOGLE_CLOUD_PROJECT": self.resources.project,
                "RUNNER_TOPIC": self.resources.topic,
                "RUNNER_DEAD_LETTER_TOPIC": self.resources.dead_letter_topic,
                **self._ledger_env(),
                **self.config.extra_env,
            },
        )

    def _ledger_env(self) -> dict[str, str]:
        if not self.config.ledger:
            return {}
        host = self.stack.firestore_url.removeprefix("http://").rstrip("/")
        return {"FIRESTORE_EMULATOR_HOST": host, "RUNNER_LEDGER_COLLECTION": f"{self.config.name}-ledger"}

    def start(self) -> GcpPath:
        config = self.config
        self.resources = create_resources(
            publisher=self.publisher,
            subscriber=self.subscriber,
            project=fresh_project_id(),
            name=config.name,
            max_delivery_attempts=config.max_delivery_attempts,
            ack_deadline_s=config.ack_deadline_s,
            min_backoff_s=config.min_backoff_s,
            max_backoff_s=config.max_backoff_s,
        )
        process = self.stack.start(
            components.functions_framework(
                target="functions.gcp:consume_http" if config.push_format == "push" else "functions.gcp:consume",
                source_dir=self.stack.run_dir / "gcp-consume",
                env=self.function_env,
                signature_type="http" if config.push_format == "push" else "cloudevent",
                threads=config.concurrency,
                name="functions-framework-consume",
            )
        )
        assert process.url is not None
        self.function_url = process.url
        mode = config.push_format
        if config.delivery == "process":
            self.stack.start(
                components.deliverer(
                    name="pubsub-push-bridge",
                    args=[
                        "pubsub", "--emulator", self.stack.pubsub_url, "--topic", self.resources.topic,
                        "--subscription", self.resources.subscription, "--function-url", process.url,
                        "--concurrency", str(config.concurrency), "--mode", mode,
                    ],
                )
            )  # fmt: skip
            return self
        self.bridge = PubSubPushBridge(
            subscriber=self.subscriber,
            resources=self.resources,
            function_url=process.url,
            concurrency=config.concurrency,
            mode=mode,
            timeout_s=float(config.ack_deadline_s),
        ).start()
        self.stack.on_close(self.bridge.stop)
        return self

    def start_dispatcher(self) -> str:
        """Start the producer function (functions.gcp.dispatch) under functions-framework; returns its URL."""
        if self.config.dispatch_target is None:
            raise LocalStackError("this path has no dispatch target")
        if self._dispatch_url is None:
            process = self.stack.start(
                components.functions_framework(
                    target=self.config.dispatch_target,
                    source_dir=self.stack.run_dir / "gcp-dispatch",
                    # Cloud Scheduler's call is unsigned; production protects the function with IAM instead.
                    env={**self.function_env, "RUNNER_ALLOW_UNSIGNED_SCHEDULE": "true"},
                    signature_type="http",
                    threads=2,
                    name="functions-framework-dispatch",
                )
            )
            assert process.url is not None
            self._dispatch_url = process.url
        return self._dispatch_url

    def dispatch(self) -> Any:
        """Call the producer function as Cloud Scheduler would (an unsigned POST)."""
        import requests

        url = self.start_dispatcher()
        session = requests.Session()
        session.trust_env = False
        response = session.post(url, json={}, timeout=120)
        if response.status_code >= 300:
            raise LocalStackError(f"dispatch failed: HTTP {response.status_code}: {response.text[:500]}")
        try:
            return response.json()
        except ValueError:
            return response.text

    def send(self, bodies: Sequence[bytes | str], *, attributes: Mapping[str, str] | None = None) -> list[str]:
        assert self.resources is not None
        return publish(self.publisher, self.resources.topic, bodies, attributes=attributes)

    def collect_dead_letters(self) -> list[DeadLetter]:
        """Everything that reached the dead-letter topic so far (accumulated across calls).

        The emulator moves an exhausted message when it would deliver it again, so keep the bridge running while
        collecting."""
        assert self.resources is not None
        for received in pull_all(self.subscriber, self.resources.dead_letter_subscription, settle_s=0.2):
            attributes = dict(received.message.attributes)
            reason = attributes.get(FAILURE_REASON_ATTRIBUTE)
            deliveries = attributes.get("CloudPubSubDeadLetterSourceDeliveryCount")
            if reason is None and deliveries is not None:
                reason = f"delivered {deliveries} times (dead-letter policy)"
            body = bytes(received.message.data)
            self.dead_letters.append(DeadLetter(body=body, reason=reason, attributes=attributes))
        return self.dead_letters
