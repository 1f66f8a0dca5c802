"""Seed problems as one line each, naming the file, the line and the fix.

pydantic's own rendering of a `ValidationError` spends three lines per problem (location, message, docs link) and
cannot know where in the YAML the problem sits; a person editing a seed wants `file:line: where: what (fix)`.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

Location = tuple[int | str, ...]


def yaml_syntax_message(path: Path, exc: yaml.YAMLError) -> str:
    """`seed.yaml:7:3: YAML syntax error: could not find expected ':'` instead of PyYAML's `<unicode string>`."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    return f"{where}: YAML syntax error: {problem}"


def validation_lines(exc: ValidationError, *, model: type[BaseModel], source: Path | None, text: str | None) -> str:
    """One line per problem: `seed.yaml:12: projects[0].stages[1]: unknown key 'titel' (did you mean 'title'?)`."""
    root = _compose(text)
    errors = exc.errors()
    # A misspelt key shows as "unknown 'titel'" and "missing 'title'": the first line, with its fix, says it all.
    suggested = set()
    for error in errors:
        loc = _field_path(error["loc"])
        if error["type"] == "extra_forbidden" and loc:
            suggested.add((loc[:-1], _closest(str(loc[-1]), _known_keys(model, loc[:-1]))))
    lines = []
    for error in errors:
        loc = _field_path(error["loc"])
        if error["type"] == "missing" and (loc[:-1], str(loc[-1])) in suggested:
            continue
        line = _line_of(root, loc)
        where = f"{source}:{line}" if source is not None and line is not None else str(source or "seed")
        lines.append(f"{where}: {_dotted(loc) or 'top level'}: {_reason(error, model, loc)}")
    return "\n".join(lines)


def _reason(error: ErrorDetails, model: type[BaseModel], loc: Location) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        known = _known_keys(model, loc[:-1])
        return f"unknown key {key!r}{_did_you_mean(key, known, fallback=True)}"
    if kind == "missing":
        return f"missing required key {str(loc[-1])!r}"
    if kind in ("literal_error", "enum"):
        given = str(error.get("input"))
        expected = re.findall(r"'([^']*)'", str((error.get("ctx") or {}).get("expected", "")))
        return f"{given!r} is not one of {', '.join(expected)}{_did_you_mean(given, expected, fallback=False)}"
    return str(error["msg"]).removeprefix("Value error, ")


def _closest(word: str, choices: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def _did_you_mean(word: str, choices: Sequence[str], *, fallback: bool) -> str:
    close = _closest(word, choices)
    if close is not None:
        return f" (did you mean {close!r}?)"
    if fallback and choices:
        return f" (allowed: {', '.join(sorted(choices))})"
    return ""


def _field_path(loc: Sequence[int | str]) -> Location:
    # pydantic adds the member tried for a union (`str`, `PathwaySpec`, `function-after[...]`); those are not keys.
    return tuple(part for part in loc if isinstance(part, int) or not _is_union_tag(part))


def _is_union_tag(part: str) -> bool:
    return "[" in part or part in {"str", "int", "float", "bool", "uuid", "dict", "list"} or part[:1].isupper()


def _dotted(loc: Location) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _known_keys(model: type[BaseModel], loc: Location) -> list[str]:
    """The keys the model at `loc` accepts (walking nested models, lists and optional members)."""
    current: Iterable[object] = (model,)
    for part in loc:
        found: list[object] = []
        for candidate in current:
            for inner in _members(candidate):
                if isinstance(part, int):
                    found.extend(_items_of(inner))
                elif isinstance(inner, type) and issubclass(inner, BaseModel) and part in inner.model_fields:
                    found.append(inner.model_fields[part].annotation)
                elif typing.get_origin(inner) is dict:
                    found.append(typing.get_args(inner)[1])
        current = found
    keys: set[str] = set()
    for candidate in current:
        for inner in _members(candidate):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                keys.update(inner.model_fields)
    return sorted(keys)


def _members(annotation: object) -> list[object]:
    """`A | B | None` -> [A, B, None]; anything else -> [it]."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [member for arg in typing.get_args(annotation) for member in _members(arg)]
    return [annotation]


def _items_of(annotation: object) -> list[object]:
    if typing.get_origin(annotation) in (list, tuple, set):
        return list(typing.get_args(annotation)[:1])
    return []


def _compose(text: str | None) -> yaml.Node | None:
    if text is None:
        return None
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None


def _line_of(node: yaml.Node | None, loc: Location) -> int | None:
    """1-based line of the deepest YAML node on `loc` (the key itself for a key that should not be there)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                return line
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
