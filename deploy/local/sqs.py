"""The AWS path: SQS queues with a dead-letter queue on moto_server, and a poller that plays Lambda's SQS mapping.

moto accepts event source mappings but cannot run a function without Docker, so delivering batches to the handler is
ours to do. `SqsEventSourcePoller` does what the managed mapping does with `ReportBatchItemFailures` on: receive up to
10 messages, build the exact Lambda SQS event, invoke the handler (inside the RIE, or in-process), delete the records
that succeeded, and leave the failed ones to the visibility timeout so the redrive policy counts their receives.

The local stack's queues keep production's long visibility timeout (6x the function timeout), so a batch that is slow
under load is never handed to a second instance while in flight. Waiting that long between retries would make tests
crawl, so the stack's poller takes one local-only shortcut (`retry_delay_s`): it makes the records the function
reported as failed visible again after a short delay. The managed mapping has no such setting.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from deploy.local.components import rie_invocation_url
from deploy.local.workers import WorkerStats, WorkerThreads

# What the mapping copies from SQS's system attributes into each record.
_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "MessageGroupId",
    "MessageDeduplicationId",
    "SequenceNumber",
    "AWSTraceHeader",
)


@dataclass(frozen=True, slots=True)
class SqsQueues:
    """A work queue and its dead-letter queue."""

    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    fifo: bool
    max_receive_count: int


def create_queues(
    sqs: Any,
    *,
    name: str,
    fifo: bool = False,
    visibility_timeout_s: int = 2,
    max_receive_count: int = 3,
    max_message_bytes: int = 1024 * 1024,
) -> SqsQueues:
    """Create `name` (+ `.fifo`) and `name-dlq` with a redrive policy after `max_receive_count` receives.

    Messages may be up to 1 MiB (SQS's maximum), so tests can plant bodies larger than a consumer should accept.
    """
    suffix = ".fifo" if fifo else ""
    fifo_attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "false"} if fifo else {}
    dlq_attributes = {**fifo_attributes, "MaximumMessageSize": str(max_message_bytes)}
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq{suffix}", Attributes=dlq_attributes)["QueueUrl"]
    dlq_arn = _arn(sqs, dlq_url)
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
    queue_url = sqs.create_queue(
        QueueName=f"{name}{suffix}",
        Attributes={
            **fifo_attributes,
            "VisibilityTimeout": str(visibility_timeout_s),
            "RedrivePolicy": redrive,
            "MaximumMessageSize": str(max_message_bytes),
        },
    )["QueueUrl"]
    return SqsQueues(
        queue_url=queue_url,
        queue_arn=_arn(sqs, queue_url),
        dlq_url=dlq_url,
        dlq_arn=dlq_arn,
        fifo=fifo,
        max_receive_count=max_receive_count,
    )


LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def aws_env(endpoint_url: str) -> dict[str, str]:
    """What makes boto3 (in any process) talk to moto_server with dummy credentials and no code change."""
    return {**LOCAL_AWS_ENV, "AWS_ENDPOINT_URL": endpoint_url}


def sqs_client(endpoint_url: str) -> Any:
    import boto3

    return boto3.client(
        "sqs",
        endpoint_url=endpoint_url,
        region_name=LOCAL_AWS_ENV["AWS_DEFAULT_REGION"],
        aws_access_key_id=LOCAL_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def _arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def queue_depth(sqs: Any, url: str) -> int:
    """Visible plus in-flight (and delayed) messages: zero means the queue is drained."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def drain_queue(sqs: Any, url: str, *, wait_s: float = 0.5) -> list[dict[str, Any]]:
    """Receive and delete every message currently visible in `url` (e.g. to inspect a DLQ)."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
            VisibilityTimeout=30,
        ).get("Messages", [])
        if not batch:
            if wait_s <= 0:
                return messages
            time.sleep(wait_s)
            wait_s = 0
            continue
        messages.extend(batch)
        delete_messages(sqs, url, batch)


def delete_messages(sqs: Any, url: str, messages: Sequence[Mapping[str, Any]]) -> list[str]:
    """Delete up to 10 received messages in one call; returns the ids SQS refused (e.g. an expired receipt)."""
    if not messages:
        return []
    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    refused = sqs.delete_message_batch(QueueUrl=url, Entries=entries).get("Failed", [])
    return [str(messages[int(entry["Id"])]["MessageId"]) for entry in refused]


# --- The Lambda SQS event ----------------------------------------------------------------------------------------


def lambda_sqs_record(message: Mapping[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """One record, in the exact shape Lambda's SQS mapping hands the function."""
    system = message.get("Attributes", {})
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {key: system[key] for key in _RECORD_ATTRIBUTES if key in system},
        "messageAttributes": {
            name: _lambda_message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update({"eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": region})
    return record


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {}
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    converted["stringListValues"] = list(value.get("StringListValues", []))
    converted["binaryListValues"] = [
        base64.b64encode(item).decode("ascii") for item in value.get("BinaryListValues", [])
    ]
    converted["dataType"] = value["DataType"]
    return converted


def lambda_sqs_event(messages: Sequence[Mapping[str, Any]], *, queue_arn: str, region: str) -> dict[str, Any]:
    return {"Records": [lambda_sqs_record(m, queue_arn=queue_arn, region=region) for m in messages]}


# --- Invoking the function ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Invocation:
    """What came back from one invoke: the handler's JSON result, or the error Lambda would record."""

    payload: Any
    function_error: str | None = None


class Invoker(Protocol):
    def __call__(self, event: dict[str, Any]) -> Invocation: ...


class RieInvoker:
    """Invokes the function inside a Lambda RIE (one invocation at a time, like one Lambda instance)."""

    def __init__(self, base_url: str, *, timeout_s: float = 60.0) -> None:
        self.base_url = base_url
        self._url = rie_invocation_url(base_url)
        self._timeout_s = timeout_s
        self._session = requests.Session()
        self._session.trust_env = False  # loopback only: never through a proxy

    def __call__(self, event: dict[str, Any]) -> Invocation:
        try:
            response = self._session.post(self._url, json=event, timeout=self._timeout_s)
        except requests.RequestException as exc:
            return Invocation(payload=None, function_error=f"invoke failed: {type(exc).__name__}")
        try:
            payload = response.json()
        except ValueError:
            return Invocation(payload=None, function_error=f"HTTP {response.status_code}: not JSON")
        if response.status_code != 200:
            return Invocation(payload=payload, function_error=f"HTTP {response.status_code}")
        # A raised exception comes back as HTTP 200 with errorType/errorMessage, as Lambda's Invoke API does.
        if isinstance(payload, dict) and "errorType" in payload:
            return Invocation(payload=payload, function_error=str(payload["errorType"]))
        return Invocation(payload=payload)


class InProcessInvoker:
    """Calls the handler in this process with a real awslambdaric `LambdaContext` (fast; used by benchmarks)."""

    def __init__(
        self, handler: Callable[[dict[str, Any], Any], Any], *, timeout_s: float = 60.0, function_name: str = "local"
    ) -> None:
        self._handler = handler
        self._timeout_s = timeout_s
        self._arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"

    def __call__(self, event: dict[str, Any]) -> Invocation:
        from awslambdaric.lambda_context import LambdaContext

        deadline_ms = int((time.time() + self._timeout_s) * 1000)
        context = LambdaContext(str(uuid.uuid4()), None, None, deadline_ms, self._arn)
        try:
            payload = self._handler(event, context)
        except Exception as exc:  # Lambda turns any handler exception into a function error
            return Invocation(payload=None, function_error=type(exc).__name__)
        return Invocation(payload=json.loads(json.dumps(payload)))  # what crosses the wire is JSON


def failed_message_ids(invocation: Invocation, batch_ids: Sequence[str]) -> set[str]:
    """The records Lambda keeps for a retry, by the partial batch response rules.

    A function error, or an itemIdentifier that is empty or not in the batch, fails the whole batch; a missing, null or
    empty `batchItemFailures` means every record succeeded.
    """
    everything = set(batch_ids)
    if invocation.function_error is not None:
        return everything
    payload = invocation.payload
    if not isinstance(payload, dict):
        return set()
    failures = payload.get("batchItemFailures")
    if not failures:
        return set()
    if not isinstance(failures, list):
        return everything
    failed: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in everything:
            return everything
        failed.add(identifier)
    return failed


# --- The poller -------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class PollerStats(WorkerStats):
    invocations: int = 0
    records: int = 0
    deleted: int = 0
    failed_records: int = 0
    function_errors: int = 0

    def add(self, *, records: int, deleted: int, failed: int, function_error: str | None) -> None:
        with self.lock:
            self.invocations += 1
            self.records += records
            self.deleted += deleted
            self.failed_records += failed
            if function_error is not None:
                self.function_errors += 1
                self._keep(function_error)


class SqsEventSourcePoller(WorkerThreads):
    """Lambda's SQS event source mapping, one worker thread per invoker (= per concurrent function instance)."""

    def __init__(
        self,
        *,
        sqs: Any,
        queues: SqsQueues,
        invokers: Sequence[Invoker],
        batch_size: int = 10,
        wait_time_s: int = 1,
        retry_delay_s: int | None = None,
    ) -> None:
        """`retry_delay_s`: None leaves failed records to the queue's visibility timeout, as Lambda does; a number
        makes them visible again after that many seconds (the local-only shortcut, see the module docstring)."""
        if not 1 <= batch_size <= 10:
            raise ValueError("batch_size must be 1..10 (the receive limit; larger batches need a batching window)")
        self.stats = PollerStats()
        super().__init__(name="sqs-poller", count=len(invokers), stats=self.stats)
        self._sqs = sqs
        self._queues = queues
        self._invokers = list(invokers)
        self._batch_size = batch_size
        self._wait_time_s = wait_time_s
        self._retry_delay_s = retry_delay_s
        self._region = str(sqs.meta.region_name)

    def poll_once(self, invoker: Invoker) -> int:
        """Receive one batch, invoke, delete the successes. Returns how many records the batch held."""
        messages = self._sqs.receive_message(
            QueueUrl=self._queues.queue_url,
            MaxNumberOfMessages=self._batch_size,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=self._wait_time_s,
        ).get("Messages", [])
        if not messages:
            return 0
        event = lambda_sqs_event(messages, queue_arn=self._queues.queue_arn, region=self._region)
        invocation = invoker(event)
        failed = failed_message_ids(invocation, [m["MessageId"] for m in messages])
        succeeded = [m for m in messages if m["MessageId"] not in failed]
        for message_id in delete_messages(self._sqs, self._queues.queue_url, succeeded):
            # Lambda would see the same: the record comes back after the visibility timeout (at-least-once).
            self.stats.note_error(f"delete refused for {message_id}")
        # Failed records reappear after the visibility timeout (or `retry_delay_s`), and the redrive policy moves
        # them to the DLQ after maxReceiveCount receives, exactly as with the managed mapping.
        if self._retry_delay_s is not None:
            self._retry_soon([m for m in messages if m["MessageId"] in failed])
        self.stats.add(
            records=len(messages), deleted=len(succeeded), failed=len(failed), function_error=invocation.function_error
        )
        return len(messages)

    def _retry_soon(self, messages: Sequence[Mapping[str, Any]]) -> None:
        """Shorten the failed records' visibility to `retry_delay_s` (the local-only shortcut)."""
        if not messages:
            return
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self._retry_delay_s}
            for i, m in enumerate(messages)
        ]
        refused = self._sqs.change_message_visibility_batch(QueueUrl=self._queues.queue_url, Entries=entries)
        for entry in refused.get("Failed", []):
            # Harmless: the record then comes back after the queue's full visibility timeout instead.
            self.stats.note_error(f"visibility change refused for {messages[int(entry['Id'])]['MessageId']}")

    def _make_step(self, index: int) -> Callable[[], bool]:
        invoker = self._invokers[index]
        return lambda: self.poll_once(invoker) > 0
