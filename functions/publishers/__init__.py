"""Send the producer's messages to a queue. `sqs` imports boto3 and `pubsub` google-cloud-pubsub, each on demand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from runner_core.producer import OutboundMessage


@dataclass(frozen=True, slots=True)
class PublishReport:
    """How a publish went: counts of messages and tasks sent, and short reasons for what failed."""

    published: int = 0
    tasks: int = 0
    failed: int = 0
    errors: tuple[str, ...] = field(default=())
    unsent: tuple[int, ...] = field(default=())  # indexes of the messages (as passed) that were not sent


class Publisher(Protocol):
    """Where the producer's messages go; the queue's own limits (batch size, payload) are the publisher's job."""

    @property
    def destination(self) -> str: ...

    @property
    def max_message_bytes(self) -> int: ...

    @property
    def tasks_per_message(self) -> int: ...

    def publish(self, messages: Sequence[OutboundMessage]) -> PublishReport: ...
