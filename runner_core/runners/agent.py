"""A registered agent: the user's function, its analysed signature and its stage options."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from runner_core.di.dependant import Dependant, analyze, describe
from runner_core.models import LabelRowInitialiseLabelsArgs, LabelRowMetadataIncludeArgs


@dataclass(frozen=True, slots=True)
class RunnerAgent:
    identity: str | UUID  # the stage as the user named it (title or uuid); resolved on first use
    callable: Callable[..., Any]
    dependant: Dependant
    printable_name: str
    label_row_metadata_include_args: LabelRowMetadataIncludeArgs
    label_row_initialise_labels_args: LabelRowInitialiseLabelsArgs
    will_set_priority: bool = False
    failure_pathway: str | None = None

    @classmethod
    def create(
        cls,
        identity: str | UUID,
        func: Callable[..., Any],
        *,
        label_row_metadata_include_args: LabelRowMetadataIncludeArgs | None,
        label_row_initialise_labels_args: LabelRowInitialiseLabelsArgs | None,
        will_set_priority: bool,
        failure_pathway: str | None,
    ) -> RunnerAgent:
        # analyze() raises DependencyDefinitionError here, at decoration, for any parameter it cannot inject.
        return cls(
            identity=normalise_identity(identity),
            callable=func,
            dependant=analyze(func, agent=True),
            printable_name=describe(func),
            label_row_metadata_include_args=label_row_metadata_include_args or LabelRowMetadataIncludeArgs(),
            label_row_initialise_labels_args=label_row_initialise_labels_args or LabelRowInitialiseLabelsArgs(),
            will_set_priority=will_set_priority,
            failure_pathway=failure_pathway,
        )

    @property
    def is_async(self) -> bool:
        return self.dependant.kind.is_async


def normalise_identity(identity: str | UUID) -> str | UUID:
    """A stage given as a uuid string becomes a UUID; anything else is a stage title."""
    if isinstance(identity, UUID):
        return identity
    if not isinstance(identity, str) or not identity:
        raise TypeError(f"a stage is named by its title or uuid, not {identity!r}")
    try:
        return UUID(identity)
    except ValueError:
        return identity
