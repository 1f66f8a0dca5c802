"""Agents written the way users write them: `from __future__ import annotations`, so every annotation is a string."""

from __future__ import annotations

from typing import Annotated

from encord.objects import LabelRowV2
from encord.storage import StorageItem
from encord.workflow.stages.agent import AgentTask

from runner_core.di import Depends


class Frame:
    def __init__(self, item: StorageItem) -> None:
        self.item = item


def load_frame(storage_item: StorageItem) -> Frame:
    return Frame(storage_item)


def agent_with_string_annotations(
    task: AgentTask,
    label_row: LabelRowV2 | None,
    frame: Annotated[Frame, Depends(load_frame)],
    same_frame: Frame = Depends(load_frame),
) -> str:
    return f"{task}:{label_row}:{frame.item}:{same_frame is frame}"


def agent_depends_on_class(frame: Annotated[Frame, Depends()]) -> Frame:
    return frame


def agent_with_unresolvable(thing: MissingName) -> None:  # type: ignore[name-defined]  # noqa: F821
    """`MissingName` exists nowhere: analysis must say so, naming the parameter."""
