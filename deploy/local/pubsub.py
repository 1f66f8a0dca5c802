"""The GCP path: topic, subscription with a dead-letter topic and retry policy on the Pub/Sub emulator, and a bridge
that delivers each message to the function served by functions-framework the way production does.

Two production shapes: "push" (the default, what the Terraform module deploys) POSTs the raw body of a push
subscription, `{"message": {...}, "subscription": ..., "deliveryAttempt": n}`, to `functions.gcp.consume_http`;
"cloudevent" sends an Eventarc *binary CloudEvent* (ce-* headers) to `functions.gcp.consume`.

Why a pull bridge and not an emulator push subscription: the emulator (0.8.20) pushes a body without
`deliveryAttempt` even when the subscription has a dead-letter policy, and production's push carries it; the
consumer counts attempts with it. The bridge pulls (the pull response has the delivery attempt), builds the
production request, and acks on 2xx or nacks (ack deadline 0) otherwise, so the subscription's retry and
dead-letter policies apply as they would to a push.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import requests

from deploy.local.workers import WorkerStats, WorkerThreads

CE_TYPE = "google.cloud.pubsub.topic.v1.messagePublished"
DeliveryMode = Literal["cloudevent", "push"]


@dataclass(frozen=True, slots=True)
class PubSubResources:
    """Full resource names of one path's topic, subscription and dead-letter topic (+ a subscription to read it)."""

    project: str
    topic: str
    subscription: str
    dead_letter_topic: str
    dead_letter_subscription: str
    max_delivery_attempts: int


@contextlib.contextmanager
def emulator_env(host: str) -> Iterator[None]:
    """google-cloud-pubsub reads PUBSUB_EMULATOR_HOST when a client is built; set it for that moment only."""
    previous = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = host
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = previous


def emulator_host(url: str) -> str:
    return url.removeprefix("http://").rstrip("/")


def clients(url: str) -> tuple[Any, Any]:
    """A (publisher, subscriber) pair bound to the emulator at `url`."""
    import google.cloud.pubsub_v1 as pubsub_v1

    with emulator_env(emulator_host(url)):
        return pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()


def create_resources(
    *,
    publisher: Any,
    subscriber: Any,
    project: str,
    name: str,
    max_delivery_attempts: int = 5,
    ack_deadline_s: int = 30,
    min_backoff_s: float = 0.2,
    max_backoff_s: float = 2.0,
) -> PubSubResources:
    """Topic + subscription (dead-letter policy, retry policy) + dead-letter topic with a subscription to read it."""
    topic = publisher.topic_path(project, name)
    dead_letter_topic = publisher.topic_path(project, f"{name}-dead-letter")
    subscription = subscriber.subscription_path(project, f"{name}-consume")
    dead_letter_subscription = subscriber.subscription_path(project, f"{name}-dead-letter-read")
    publisher.create_topic(request={"name": topic})
    publisher.create_topic(request={"name": dead_letter_topic})
    subscriber.create_subscription(
        request={"name": dead_letter_subscription, "topic": dead_letter_topic, "ack_deadline_seconds": 60}
    )

    subscriber.create_subscription(
        request={
            "name": subscription,
            "topic": topic,
            "ack_deadline_seconds": ack_deadline_s,
            "dead_letter_policy": {
                "dead_letter_topic": dead_letter_topic,
                "max_delivery_attempts": max_delivery_attempts,
            },
            # proto-plus turns timedeltas into protobuf Durations.
            "retry_policy": {
                "minimum_backoff": timedelta(seconds=min_backoff_s),
                "maximum_backoff": timedelta(seconds=max_backoff_s),
            },
        }
    )
    return PubSubResources(
        project=project,
        topic=topic,
        subscription=subscription,
        dead_letter_topic=dead_letter_topic,
        dead_letter_subscription=dead_letter_subscription,
        max_delivery_attempts=max_delivery_attempts,
    )


def publish(
    publisher: Any, topic: str, bodies: Sequence[bytes | str], *, attributes: Mapping[str, str] | None = None
) -> list[str]:
    """Publish each body; returns the message ids once the emulator has them all."""
    futures = [
        publisher.publish(topic, body.encode("utf-8") if isinstance(body, str) else body, **(attributes or {}))
        for body in bodies
    ]
    return [str(future.result(timeout=30)) for future in futures]


def pull_all(subscriber: Any, subscription: str, *, settle_s: float = 0.5) -> list[Any]:
    """Pull and ack everything on `subscription` (e.g. the dead-letter reader); returns ReceivedMessage objects."""
    from google.api_core.exceptions import DeadlineExceeded

    received: list[Any] = []
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < settle_s:
        try:
            # The emulator may hold an empty pull open for seconds: a short deadline keeps this a quick look.
            response = subscriber.pull(request={"subscription": subscription, "max_messages": 100}, timeout=1)
        except DeadlineExceeded:
            continue
        if response.received_messages:
            received.extend(response.received_messages)
            subscriber.acknowledge(
                request={"subscription": subscription, "ack_ids": [m.ack_id for m in response.received_messages]}
            )
            quiet_since = time.monotonic()
        else:
            time.sleep(0.05)
    return received


# --- The production request ----------------------------------------------------------------------------------------


def _rfc3339(timestamp: Any) -> str:
    if hasattr(timestamp, "rfc3339"):
        return str(timestamp.rfc3339())
    return str(timestamp.isoformat().replace("+00:00", "Z"))


def delivery_request(
    received: Any, *, subscription: str, topic: str, mode: DeliveryMode = "cloudevent"
) -> tuple[dict[str, str], bytes]:
    """Headers and body for one received message, as Eventarc (binary CloudEvent) or a raw push would send it."""
    message = received.message
    publish_time = _rfc3339(message.publish_time)
    wire: dict[str, Any] = {}
    if message.data:
        wire["data"] = base64.b64encode(message.data).decode("ascii")
    if message.attributes:
        wire["attributes"] = dict(message.attributes)
    wire["messageId"] = message.message_id
    wire["publishTime"] = publish_time
    if message.ordering_key:
        wire["orderingKey"] = message.ordering_key
    body: dict[str, Any] = {"message": wire, "subscription": subscription}
    # deliveryAttempt is only meaningful (non-zero) when the subscription has a dead-letter policy.
    if received.delivery_attempt:
        body["deliveryAttempt"] = int(received.delivery_attempt)
    if mode == "push":
        wire["message_id"] = message.message_id
        wire["publish_time"] = publish_time
        return {"Content-Type": "application/json"}, json.dumps(body).encode("utf-8")
    project, _, topic_id = topic.removeprefix("projects/").partition("/topics/")
    headers = {
        "Content-Type": "application/json",
        "ce-specversion": "1.0",
        "ce-type": CE_TYPE,
        "ce-source": f"//pubsub.googleapis.com/projects/{project}/topics/{topic_id}",
        "ce-id": str(message.message_id),
        "ce-time": publish_time,
    }
    return headers, json.dumps(body).encode("utf-8")


# --- The bridge -------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class BridgeStats(WorkerStats):
    deliveries: int = 0
    acked: int = 0
    nacked: int = 0

    def add(self, *, acked: bool, error: str | None = None) -> None:
        with self.lock:
            self.deliveries += 1
            if acked:
                self.acked += 1
            else:
                self.nacked += 1
            if error is not None:
                self._keep(error)


class PubSubPushBridge(WorkerThreads):
    """Pulls from the subscription and POSTs each message to the function; N workers = N concurrent requests."""

    def __init__(
        self,
        *,
        subscriber: Any,
        resources: PubSubResources,
        function_url: str,
        concurrency: int = 4,
        mode: DeliveryMode = "cloudevent",
        timeout_s: float = 60.0,
    ) -> None:
        self.stats = BridgeStats()
        super().__init__(name="pubsub-bridge", count=concurrency, stats=self.stats)
        self._subscriber = subscriber
        self._resources = resources
        self._url = function_url
        self._mode: DeliveryMode = mode
        self._timeout_s = timeout_s
        self._last_activity = time.monotonic()

    def idle_for(self) -> float:
        """Seconds since a message was last pulled."""
        return time.monotonic() - self._last_activity

    def deliver(self, received: Any, session: requests.Session) -> bool:
        headers, body = delivery_request(
            received, subscription=self._resources.subscription, topic=self._resources.topic, mode=self._mode
        )
        error: str | None = None
        try:
            response = session.post(self._url, data=body, headers=headers, timeout=self._timeout_s)
            ok = 200 <= response.status_code < 300 or response.status_code == 102
            if not ok:
                error = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            ok, error = False, type(exc).__name__
        if ok:
            self._subscriber.acknowledge(
                request={"subscription": self._resources.subscription, "ack_ids": [received.ack_id]}
            )
        else:
            # A nack: the subscription's retry policy and dead-letter policy decide what happens next.
            self._subscriber.modify_ack_deadline(
                request={
                    "subscription": self._resources.subscription,
                    "ack_ids": [received.ack_id],
                    "ack_deadline_seconds": 0,
                }
            )
        self.stats.add(acked=ok, error=error)
        return ok

    def poll_once(self, session: requests.Session, *, max_messages: int = 1) -> int:
        from google.api_core.exceptions import DeadlineExceeded

        try:
            # A short deadline keeps stop() prompt: the emulator may hold a pull open while messages back off.
            response = self._subscriber.pull(
                request={"subscription": self._resources.subscription, "max_messages": max_messages}, timeout=2
            )
        except DeadlineExceeded:
            return 0
        for received in response.received_messages:
            self._last_activity = time.monotonic()
            self.deliver(received, session)
            self._last_activity = time.monotonic()
        return len(response.received_messages)

    def _make_step(self, index: int) -> Callable[[], bool]:
        session = requests.Session()
        session.trust_env = False  # loopback only: never through a proxy
        return lambda: self.poll_once(session) > 0


def fresh_project_id() -> str:
    """The emulator has no reset: every run uses its own project id."""
    return f"local-{uuid.uuid4().hex[:10]}"
