"""`analyze`: what is read from a signature at decoration, and what is rejected there."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, Optional

import pytest
from encord.objects import LabelRowV2
from encord.project import Project
from encord.storage import StorageItem
from encord.user_client import EncordUserClient
from encord.workflow.stages.agent import AgentStage, AgentTask

from runner_core.context import TaskScope
from runner_core.di import (
    CallKind,
    DependencyDefinitionError,
    Depends,
    Requirement,
    analyze,
    effective_requirements,
)
from tests.unit.di import _di_agents_future as future_agents


def needs_label_row(label_row: LabelRowV2) -> str:
    return "lr"


def needs_storage_item(storage_item: StorageItem) -> str:
    return "si"


def outer(inner: Annotated[str, Depends(needs_label_row)]) -> str:
    return inner


def test_flat_agent_injects_every_supported_type() -> None:
    def agent(
        project: Project,
        label_row: LabelRowV2,
        task: AgentTask,
        stage: AgentStage,
        item: StorageItem,
        client: EncordUserClient,
        scope: TaskScope,
    ) -> None: ...

    dependant = analyze(agent)
    assert [(p.name, p.requirement) for p in dependant.injected] == [
        ("project", Requirement.PROJECT),
        ("label_row", Requirement.LABEL_ROW),
        ("task", Requirement.AGENT_TASK),
        ("stage", Requirement.AGENT_STAGE),
        ("item", Requirement.STORAGE_ITEM),
        ("client", Requirement.USER_CLIENT),
        ("scope", Requirement.TASK_SCOPE),
    ]
    assert dependant.requirements == frozenset(Requirement)
    assert dependant.dependencies == ()
    assert dependant.kind is CallKind.SYNC


def test_nested_dependencies_in_both_forms() -> None:
    def agent(a: Annotated[str, Depends(outer)], b: str = Depends(needs_storage_item, use_cache=False)) -> None: ...

    dependant = analyze(agent)
    first, second = dependant.dependencies
    assert (first.name, first.call, first.use_cache) == ("a", outer, True)
    assert (second.name, second.call, second.use_cache) == ("b", needs_storage_item, False)
    assert first.dependencies[0].call is needs_label_row
    assert first.dependencies[0].injected[0].requirement is Requirement.LABEL_ROW


def test_requirements_are_ored_over_the_tree_and_only_what_is_needed() -> None:
    def priority_only(task: AgentTask) -> float:
        return 0.0

    def agent(a: Annotated[str, Depends(outer)], b: str = Depends(needs_storage_item)) -> None: ...

    assert analyze(priority_only).requirements == {Requirement.AGENT_TASK}
    assert analyze(outer).requirements == {Requirement.LABEL_ROW}
    assert analyze(agent).requirements == {Requirement.LABEL_ROW, Requirement.STORAGE_ITEM}


def test_optional_injected_types_are_accepted() -> None:
    def agent(a: Optional[LabelRowV2], b: StorageItem | None = None) -> None: ...  # noqa: UP045 - the old spelling

    a, b = analyze(agent).injected
    assert (a.injected_type, a.optional, b.injected_type, b.optional) == (LabelRowV2, True, StorageItem, True)


def test_string_annotations_resolve_against_the_functions_module() -> None:
    dependant = analyze(future_agents.agent_with_string_annotations)
    assert [(p.name, p.injected_type, p.optional) for p in dependant.injected] == [
        ("task", AgentTask, False),
        ("label_row", LabelRowV2, True),
    ]
    assert [d.call for d in dependant.dependencies] == [future_agents.load_frame, future_agents.load_frame]
    assert dependant.requirements == {Requirement.AGENT_TASK, Requirement.LABEL_ROW, Requirement.STORAGE_ITEM}


def test_depends_without_argument_uses_the_annotation_as_factory() -> None:
    dependant = analyze(future_agents.agent_depends_on_class)
    (frame,) = dependant.dependencies
    assert frame.call is future_agents.Frame
    assert frame.requirements == {Requirement.STORAGE_ITEM}  # from Frame.__init__'s string annotation


def test_depends_with_a_locally_defined_annotation_needs_no_resolution() -> None:
    class Local:  # not reachable from the module globals: the string "Local" cannot be evaluated
        pass

    def agent(value: Local = Depends(Local)) -> None: ...

    assert analyze(agent).dependencies[0].call is Local


def test_both_depends_forms_at_once_is_an_error() -> None:
    def agent(x: Annotated[str, Depends(needs_label_row)] = Depends(needs_label_row)) -> None: ...

    with pytest.raises(DependencyDefinitionError, match=r"'x' of .*agent.* both in Annotated\[\.\.\.\] and as its"):
        analyze(agent)


def test_unsupported_parameter_is_reported_at_analysis_with_name_and_fix() -> None:
    def my_agent(task: AgentTask, threshold: float) -> None: ...

    with pytest.raises(DependencyDefinitionError) as caught:
        analyze(my_agent)
    message = str(caught.value)
    assert "'threshold'" in message
    assert "my_agent" in message
    assert "annotated float" in message
    assert "Depends(get_threshold)" in message
    assert "LabelRowV2" in message
    assert "StorageItem" in message


def test_unsupported_parameter_deep_in_the_tree_names_the_dependency() -> None:
    def broken_dependency(size: int) -> int:
        return size

    def agent(value: int = Depends(broken_dependency)) -> None: ...

    with pytest.raises(DependencyDefinitionError, match=r"'size' of .*broken_dependency"):
        analyze(agent)


class MyLabelRow(LabelRowV2):
    pass


def test_subclass_of_an_injected_type_is_not_injected() -> None:
    def agent(label_row: MyLabelRow) -> None: ...

    with pytest.raises(DependencyDefinitionError, match="exactly one of the auto-injected types"):
        analyze(agent)


def test_unresolvable_string_annotation_is_reported() -> None:
    with pytest.raises(DependencyDefinitionError, match=r"'thing'.*NameError.*MissingName"):
        analyze(future_agents.agent_with_unresolvable)


def test_missing_annotation_without_default_is_an_error() -> None:
    def agent(thing) -> None:  # type: ignore[no-untyped-def]
        ...

    with pytest.raises(DependencyDefinitionError, match="has no annotation and no default"):
        analyze(agent)


def test_plain_defaults_are_left_to_the_callable() -> None:
    def dependency(label_row: LabelRowV2, size: int = 512, mode="fast") -> str:  # type: ignore[no-untyped-def]
        return f"{size}{mode}"

    dependant = analyze(dependency)
    assert [p.name for p in dependant.injected] == ["label_row"]
    assert dependant.dependencies == ()


@pytest.mark.parametrize(
    ("signature_source", "pattern"),
    [
        ("def f(*args: Any) -> None: ...", r"\*args / \*\*kwargs"),
        ("def f(**kwargs: Any) -> None: ...", r"\*args / \*\*kwargs"),
        ("def f(task: AgentTask, /) -> None: ...", "positional-only"),
    ],
)
def test_variadic_and_positional_only_parameters_are_errors(signature_source: str, pattern: str) -> None:
    namespace: dict[str, Any] = {"Any": Any, "AgentTask": AgentTask}
    exec(signature_source, namespace)
    with pytest.raises(DependencyDefinitionError, match=pattern):
        analyze(namespace["f"])


def test_depends_without_argument_on_a_non_class_annotation_is_an_error() -> None:
    def agent(x: Annotated[Optional[int], Depends()]) -> None: ...  # noqa: UP045

    with pytest.raises(DependencyDefinitionError, match=re.escape("pass the factory explicitly")):
        analyze(agent)


def test_circular_dependencies_are_reported() -> None:
    def node_a(b: Any = None) -> None: ...

    def node_b(a: Any = Depends(node_a)) -> None: ...

    node_a.__defaults__ = (Depends(node_b),)  # close the loop a -> b -> a after both exist
    with pytest.raises(DependencyDefinitionError, match=r"circular dependency: .*node_a -> .*node_b -> .*node_a"):
        analyze(node_a)


def test_kinds_are_detected() -> None:
    async def coroutine() -> int:
        return 1

    def generator() -> Iterator[int]:
        yield 1

    async def async_generator() -> AsyncIterator[int]:
        yield 1

    class AsyncCallable:
        async def __call__(self) -> int:
            return 1

    assert analyze(coroutine).kind is CallKind.ASYNC
    assert analyze(generator).kind is CallKind.SYNC_GENERATOR
    assert analyze(async_generator).kind is CallKind.ASYNC_GENERATOR
    assert analyze(AsyncCallable()).kind is CallKind.ASYNC
    assert analyze(AsyncCallable).kind is CallKind.SYNC  # constructing the class is sync


def test_generator_agents_are_rejected_at_decoration() -> None:
    def agent() -> Iterator[str]:
        yield "pathway"

    assert analyze(agent).kind is CallKind.SYNC_GENERATOR  # fine as a dependency
    with pytest.raises(DependencyDefinitionError, match="must return"):
        analyze(agent, agent=True)


def test_effective_requirements_follow_overrides() -> None:
    def fake_label_row() -> str:
        return "fake"

    def agent(a: Annotated[str, Depends(outer)], task: AgentTask) -> None: ...

    dependant = analyze(agent)
    assert effective_requirements(dependant, None) == {Requirement.LABEL_ROW, Requirement.AGENT_TASK}
    assert effective_requirements(dependant, {outer: fake_label_row}) == {Requirement.AGENT_TASK}
    assert effective_requirements(dependant, {outer: needs_storage_item}) == {
        Requirement.STORAGE_ITEM,
        Requirement.AGENT_TASK,
    }
