"""Signature analysis, done once per agent at decoration: the `Dependant` tree and what it requires."""

from __future__ import annotations

import functools
import inspect
import sys
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, ForwardRef

from runner_core.di.errors import DependencyDefinitionError
from runner_core.di.params import DependsMarker, OnRestore, Scope
from runner_core.di.requirements import INJECTABLE_TYPES, Requirement


class CallKind(Enum):
    """How the solver must invoke a callable."""

    SYNC = "sync"  # run in a worker thread
    ASYNC = "async"  # awaited
    SYNC_GENERATOR = "sync_generator"  # entered as a context manager in a worker thread
    ASYNC_GENERATOR = "async_generator"  # entered as an async context manager

    @property
    def is_async(self) -> bool:
        return self in (CallKind.ASYNC, CallKind.ASYNC_GENERATOR)

    @property
    def is_generator(self) -> bool:
        return self in (CallKind.SYNC_GENERATOR, CallKind.ASYNC_GENERATOR)


@dataclass(frozen=True, slots=True)
class InjectedParam:
    """A parameter the runner fills from the task (by its annotation)."""

    name: str
    requirement: Requirement
    injected_type: type
    optional: bool  # annotated `T | None`: receives None when the runner has no value


@dataclass(frozen=True, slots=True, eq=False)
class Dependant:
    """One callable and how to produce its keyword arguments. Built by `analyze`, read-only afterwards."""

    call: Callable[..., Any]
    kind: CallKind
    name: str | None  # the parameter it is bound to in its parent; None for the root
    use_cache: bool
    scope: Scope
    on_restore: OnRestore
    injected: tuple[InjectedParam, ...]
    dependencies: tuple[Dependant, ...]
    requirements: frozenset[Requirement]  # OR-ed over the whole tree

    @property
    def qualname(self) -> str:
        return describe(self.call)


def analyze(call: Callable[..., Any], *, agent: bool = False) -> Dependant:
    """Analyse `call`'s signature (and its dependencies', recursively) once.

    Raises `DependencyDefinitionError` for anything that could not be injected, naming the function, the parameter
    and the fix. With `agent=True`, generator functions are rejected (an agent must return its result).
    Parameters with a plain (non-`Depends`) default and no injectable annotation keep their default.
    """
    dependant = _analyze(call, name=None, use_cache=True, scope=Scope.TASK, on_restore=OnRestore.RECREATE, chain=())
    if agent and dependant.kind.is_generator:
        raise DependencyDefinitionError(
            f"agent {describe(call)} is a generator function; an agent must return its result (use `return`)."
        )
    return dependant


def effective_requirements(
    dependant: Dependant, overrides: Mapping[Callable[..., Any], Callable[..., Any]] | None
) -> frozenset[Requirement]:
    """`dependant.requirements` with `overrides` applied (what a runner must fetch when overrides are active)."""
    if not overrides:
        return dependant.requirements
    found: set[Requirement] = {param.requirement for param in dependant.injected}
    for sub in dependant.dependencies:
        replacement = overrides.get(sub.call)
        if replacement is not None:
            sub = replaced(sub, replacement)
        found |= effective_requirements(sub, overrides)
    return frozenset(found)


def replaced(sub: Dependant, replacement: Callable[..., Any]) -> Dependant:
    """`replacement` analysed to take `sub`'s place (an override): same parameter name, caching and scope."""
    return _analyze(
        replacement, name=sub.name, use_cache=sub.use_cache, scope=sub.scope, on_restore=sub.on_restore, chain=()
    )


def describe(call: Callable[..., Any]) -> str:
    """A readable name for error messages: `module.qualname`."""
    target = call.func if isinstance(call, functools.partial) else call
    qualname = getattr(target, "__qualname__", None) or type(target).__qualname__
    module = getattr(target, "__module__", None) or type(target).__module__
    return f"{module}.{qualname}"


# --- internals -------------------------------------------------------------------------------------------------

_SUPPORTED = ", ".join(t.__name__ for t in INJECTABLE_TYPES)


def _analyze(
    call: Callable[..., Any],
    *,
    name: str | None,
    use_cache: bool,
    scope: Scope,
    on_restore: OnRestore,
    chain: tuple[Callable[..., Any], ...],
) -> Dependant:
    if not callable(call):
        raise DependencyDefinitionError(f"Depends() needs a callable, got {call!r}.")
    if call in chain:
        cycle = " -> ".join(describe(c) for c in (*chain, call))
        raise DependencyDefinitionError(f"circular dependency: {cycle}.")
    try:
        signature = inspect.signature(call)
    except (TypeError, ValueError) as exc:
        raise DependencyDefinitionError(f"cannot read the signature of {describe(call)}: {exc}") from exc
    globalns = _globals_of(call)
    injected: list[InjectedParam] = []
    dependencies: list[Dependant] = []
    for param in signature.parameters.values():
        resolved = _analyze_param(call, param, globalns, chain=(*chain, call))
        if isinstance(resolved, InjectedParam):
            injected.append(resolved)
        elif isinstance(resolved, Dependant):
            dependencies.append(resolved)
    requirements = {p.requirement for p in injected}
    for sub in dependencies:
        requirements |= sub.requirements
    kind = _call_kind(call)
    if scope is Scope.INSTANCE:
        _check_instance_scoped(call, kind, injected, dependencies, on_restore)
    return Dependant(
        call=call,
        kind=kind,
        name=name,
        use_cache=use_cache,
        scope=scope,
        on_restore=on_restore,
        injected=tuple(injected),
        dependencies=tuple(dependencies),
        requirements=frozenset(requirements),
    )


def _analyze_param(
    call: Callable[..., Any],
    param: inspect.Parameter,
    globalns: dict[str, Any],
    *,
    chain: tuple[Callable[..., Any], ...],
) -> InjectedParam | Dependant | None:
    """What one parameter is: injected, a sub-dependency, or None (left to its plain default)."""
    where = f"parameter {param.name!r} of {describe(call)}"
    if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
        raise DependencyDefinitionError(
            f"{where}: *args / **kwargs cannot be injected; declare each value as a named parameter."
        )
    if param.kind is inspect.Parameter.POSITIONAL_ONLY:
        raise DependencyDefinitionError(
            f"{where} is positional-only; dependencies are passed by keyword, remove the `/`."
        )
    default_marker = param.default if isinstance(param.default, DependsMarker) else None
    annotation, resolve_error = _resolve_annotation(param.annotation, globalns)
    annotated_marker: DependsMarker | None = None
    if typing.get_origin(annotation) is Annotated:
        base, *metadata = typing.get_args(annotation)
        markers = [m for m in metadata if isinstance(m, DependsMarker)]
        if len(markers) > 1:
            raise DependencyDefinitionError(f"{where} has more than one Depends in its Annotated; keep one.")
        annotated_marker = markers[0] if markers else None
        annotation, resolve_error = _resolve_annotation(base, globalns)
    if default_marker is not None and annotated_marker is not None:
        raise DependencyDefinitionError(
            f"{where} uses Depends both in Annotated[...] and as its default value; keep only one of them."
        )
    marker = default_marker or annotated_marker
    if marker is not None:
        factory = marker.dependency
        if factory is None:
            if resolve_error is not None or not inspect.isclass(annotation):
                raise DependencyDefinitionError(
                    f"{where}: Depends() without an argument uses the annotation as the factory, but "
                    f"{_show(param.annotation)} is not a callable class"
                    + (f" ({resolve_error})" if resolve_error else "")
                    + "; pass the factory explicitly: Depends(make_value)."
                )
            factory = annotation
        return _analyze(
            factory,
            name=param.name,
            use_cache=marker.use_cache,
            scope=marker.scope,
            on_restore=marker.on_restore,
            chain=chain,
        )

    injected = _injectable(annotation)
    if injected is not None:
        injected_type, optional = injected
        return InjectedParam(
            name=param.name,
            requirement=INJECTABLE_TYPES[injected_type],
            injected_type=injected_type,
            optional=optional,
        )
    if param.default is not inspect.Parameter.empty:
        return None  # a plain default: the callable's own configuration, left alone
    if resolve_error is not None:
        raise DependencyDefinitionError(
            f"{where}: cannot resolve its annotation {_show(param.annotation)} ({resolve_error}). Annotations are "
            f"evaluated in the module's globals (`from __future__ import annotations` makes them strings): import "
            f"or define the name at module level, or give the parameter a Depends."
        )
    return _unsupported(where, param)


def _check_instance_scoped(
    call: Callable[..., Any],
    kind: CallKind,
    injected: list[InjectedParam],
    dependencies: list[Dependant],
    on_restore: OnRestore,
) -> None:
    """An instance-scoped value outlives every task and event loop: it may use nothing that belongs to one."""
    where = f"instance-scoped dependency {describe(call)}"
    if kind.is_async:
        raise DependencyDefinitionError(
            f"{where} is async; its value outlives the event loop of the task that created it. Make it a plain "
            "function or a generator function (load models and open sessions synchronously)."
        )
    if injected:
        names = ", ".join(p.name for p in injected)
        raise DependencyDefinitionError(
            f"{where} takes task values ({names}); an instance-scoped value is shared by every task. Take them "
            "in the agent or in a task-scoped dependency instead."
        )
    task_scoped = [d.name for d in dependencies if d.scope is not Scope.INSTANCE]
    if task_scoped:
        raise DependencyDefinitionError(
            f"{where} depends on task-scoped {', '.join(str(n) for n in task_scoped)}; give those "
            "scope='instance' too, or move them out of it."
        )
    recreated = [d.name for d in dependencies if d.on_restore is OnRestore.RECREATE]
    if on_restore is OnRestore.KEEP and recreated:
        raise DependencyDefinitionError(
            f"{where} is kept across a snapshot restore but depends on {', '.join(str(n) for n in recreated)}, "
            "which is re-created then; it would keep the stale value. Keep those too, or re-create this one."
        )


def _unsupported(where: str, param: inspect.Parameter) -> typing.NoReturn:
    if param.annotation is inspect.Parameter.empty:
        shown = f"{param.name}"
        problem = "has no annotation and no default"
    else:
        shown = f"{param.name}: {_show(param.annotation)}"
        problem = f"is annotated {_show(param.annotation)}, which is not auto-injected"
    raise DependencyDefinitionError(
        f"{where} ({shown}) {problem}. Fix: produce it with a dependency, e.g. "
        f"`{param.name}: Annotated[T, Depends(get_{param.name})]` or `{param.name}: T = Depends(get_{param.name})`, "
        f"or annotate it with exactly one of the auto-injected types: {_SUPPORTED} "
        f"(optionally `| None`)."
    )


def _injectable(annotation: Any) -> tuple[type, bool] | None:
    """`(type, optional)` when `annotation` is an auto-injected type, `T | None` or `Optional[T]`."""
    if isinstance(annotation, type) and annotation in INJECTABLE_TYPES:
        return annotation, False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1 and len(typing.get_args(annotation)) == 2:
            inner = members[0]
            if isinstance(inner, type) and inner in INJECTABLE_TYPES:
                return inner, True
    return None


def _resolve_annotation(annotation: Any, globalns: dict[str, Any]) -> tuple[Any, str | None]:
    """Evaluate string / forward-ref annotations against the callable's module.

    Hand-written rather than `typing.get_type_hints`: that fails the whole signature on one unresolvable name,
    while a `Depends` parameter does not need its annotation at all (e.g. a class defined inside a test).
    Returns the annotation (unchanged if it could not be resolved) and the error text, if any.
    """
    try:
        if isinstance(annotation, str):
            annotation = eval(annotation, globalns)  # what typing does for string annotations
        if isinstance(annotation, ForwardRef):
            annotation = eval(annotation.__forward_arg__, globalns)
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            args = tuple(_resolve_annotation(a, globalns)[0] for a in typing.get_args(annotation))
            annotation = typing.Union[args]  # noqa: UP007 - rebuilding a Union from resolved args
    except Exception as exc:  # any error evaluating user code is reported, not raised raw
        return annotation, f"{type(exc).__name__}: {exc}"
    return annotation, None


def _globals_of(call: Callable[..., Any]) -> dict[str, Any]:
    target: Any = call
    while isinstance(target, functools.partial):
        target = target.func
    target = inspect.unwrap(target) if callable(target) else target
    if inspect.ismethod(target):
        target = target.__func__
    found = getattr(target, "__globals__", None)
    if isinstance(found, dict):
        return found
    owner = target if inspect.isclass(target) else type(target)
    module = sys.modules.get(owner.__module__)
    return dict(vars(module)) if module is not None else {}


def _call_kind(call: Callable[..., Any]) -> CallKind:
    if inspect.isclass(call):
        return CallKind.SYNC
    target: Any = call
    if not (inspect.isroutine(call) or isinstance(call, functools.partial)):
        target = getattr(call, "__call__", call)  # noqa: B004 - a callable instance: inspect its __call__
    if inspect.isasyncgenfunction(target):
        return CallKind.ASYNC_GENERATOR
    if inspect.isgeneratorfunction(target):
        return CallKind.SYNC_GENERATOR
    if inspect.iscoroutinefunction(target):
        return CallKind.ASYNC
    return CallKind.SYNC


def _show(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return "<none>"
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "")
