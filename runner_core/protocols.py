"""What code outside the core (the producer, the cloud entrypoints) may rely on from a runner: typed, so strict mypy
checks the one interface between `functions` and `runner_core`. A `QueueRunner` satisfies both protocols."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from encord.user_client import EncordUserClient
    from encord.workflow.stages.agent import AgentStage

    from runner_core.outcomes import MessageResult, QueueMessage


class TaskSource(Protocol):
    """What the producer needs: the project, and the agent stages whose waiting tasks it lists."""

    @property
    def project_hash(self) -> str: ...

    def get_agent_stages(self) -> Iterable[AgentStage]: ...


@runtime_checkable
class RunnerTarget(TaskSource, Protocol):
    """What `RUNNER_TARGET` must name: a task source that also processes queue messages (one result per message,
    in order, never raising for a message or a task)."""

    def process(self, messages: Sequence[QueueMessage], *, deadline: float | None = None) -> list[MessageResult]: ...

    def use_client(self, client: EncordUserClient) -> None:
        """Use this client from now on (built by the entrypoint from a key in a secret store)."""
        ...


__all__ = ["RunnerTarget", "TaskSource"]
