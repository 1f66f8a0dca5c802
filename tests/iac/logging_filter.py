"""A subset of Cloud Logging's query language, enough to run the module's log-based metric filters over real lines.

Supported, with Cloud Logging's meaning: comparisons `path OP value` with OP one of `= != > >= < <= :` (`:` is
"has": a case-insensitive substring), values quoted or bare (numbers, true/false, words), `AND`, `OR`, `NOT`,
juxtaposition as AND, parentheses; and the extractor `EXTRACT(path)`. Anything else raises `UnsupportedQuery`, so a
filter outside the subset fails the test instead of matching by accident. No library implements this language
(Google evaluates it server-side only), hence this evaluator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Entry = Mapping[str, Any]
Predicate = Callable[[Entry], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<op>>=|<=|!=|=|>|<|:)
      | (?P<paren>[()])
      | (?P<word>[A-Za-z0-9_.\-/@]+)
    )""",
    re.VERBOSE,
)
# What Cloud Logging lifts out of a JSON line into the LogEntry itself (the rest is jsonPayload).
_SPECIAL_FIELDS = frozenset(
    {
        "severity",
        "time",
        "timestamp",
        "logging.googleapis.com/trace",
        "logging.googleapis.com/spanId",
        "logging.googleapis.com/labels",
        "logging.googleapis.com/sourceLocation",
        "httpRequest",
    }
)


class UnsupportedQuery(ValueError):
    """The filter uses syntax outside the implemented subset."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str


def _tokens(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    query = query.rstrip()
    while position < len(query):
        match = _TOKEN.match(query, position)
        if match is None or match.end() == position:
            raise UnsupportedQuery(f"cannot read {query[position:]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append(_Token(kind, match.group(kind)))
        position = match.end()
    return tokens


def log_entry(line: str, *, resource: Mapping[str, Any]) -> dict[str, Any]:
    """The LogEntry Cloud Logging makes of one structured JSON line written to stdout by a service."""
    parsed = json.loads(line)
    return {
        "resource": dict(resource),
        "severity": parsed.get("severity", "DEFAULT"),
        "jsonPayload": {key: value for key, value in parsed.items() if key not in _SPECIAL_FIELDS},
    }


_MISSING = object()


def _lookup(entry: Entry, path: str) -> Any:
    value: Any = entry
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _literal(token: _Token) -> Any:
    if token.kind == "string":
        return json.loads(token.text)
    if token.text in ("true", "false"):
        return token.text == "true"
    try:
        return float(token.text)
    except ValueError:
        return token.text


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if actual is _MISSING or actual is None:
        return op == "!="  # a missing field is "not equal" to anything, and matches no other comparison
    if op == ":":
        return str(expected).lower() in (json.dumps(actual) if not isinstance(actual, str) else actual).lower()
    if isinstance(actual, bool) or isinstance(expected, bool):
        equal = actual == expected if isinstance(expected, bool) else str(actual).lower() == str(expected).lower()
        if op in ("=", "!="):
            return equal == (op == "=")
        raise UnsupportedQuery(f"ordering comparison {op} on a boolean")
    if isinstance(actual, int | float) and isinstance(expected, float):
        return _ordered(float(actual), op, expected)
    return _ordered(str(actual), op, str(expected))


def _ordered(left: Any, op: str, right: Any) -> bool:
    """Numbers compare as numbers, anything else as text (Cloud Logging's rule for these operators)."""
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    raise UnsupportedQuery(f"operator {op}")


class _Parser:
    def __init__(self, query: str) -> None:
        self.tokens = _tokens(query)
        self.index = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise UnsupportedQuery("the filter ends too early")
        self.index += 1
        return token

    def parse(self) -> Predicate:
        predicate = self.or_expr()
        if self.peek() is not None:
            raise UnsupportedQuery(f"unexpected {self.peek()}")
        return predicate

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while (token := self.peek()) is not None and token.kind == "word" and token.text == "OR":
            self.take()
            parts.append(self.and_expr())
        return lambda entry: any(part(entry) for part in parts)

    def and_expr(self) -> Predicate:
        parts = [self.unary()]
        while (token := self.peek()) is not None and not (token.kind == "paren" and token.text == ")"):
            if token.kind == "word" and token.text == "OR":
                break
            if token.kind == "word" and token.text == "AND":
                self.take()
            parts.append(self.unary())
        return lambda entry: all(part(entry) for part in parts)

    def unary(self) -> Predicate:
        token = self.take()
        if token.kind == "word" and token.text == "NOT":
            inner = self.unary()
            return lambda entry: not inner(entry)
        if token.kind == "paren" and token.text == "(":
            inner = self.or_expr()
            closing = self.take()
            if closing.text != ")":
                raise UnsupportedQuery("unbalanced parentheses")
            return inner
        if token.kind != "word":
            raise UnsupportedQuery(f"expected a field path, got {token.text!r}")
        op = self.take()
        if op.kind != "op":
            raise UnsupportedQuery(f"a bare term ({token.text!r}) is not supported: compare a field")
        value = self.take()
        if value.kind not in ("string", "word"):
            raise UnsupportedQuery(f"expected a value after {token.text} {op.text}")
        path, operator, expected = token.text, op.text, _literal(value)
        return lambda entry: _compare(_lookup(entry, path), operator, expected)


def compile_filter(query: str) -> Predicate:
    return _Parser(query).parse()


_EXTRACT = re.compile(r"^EXTRACT\((?P<path>[A-Za-z0-9_.]+)\)$")


def extract(extractor: str, entry: Entry) -> Any:
    """`EXTRACT(path)`: the field's value (None when absent)."""
    match = _EXTRACT.match(extractor.strip())
    if match is None:
        raise UnsupportedQuery(f"only EXTRACT(path) is supported, not {extractor!r}")
    value = _lookup(entry, match.group("path"))
    return None if value is _MISSING else value
