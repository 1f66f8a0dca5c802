"""Property tests of `decode_message`: whatever the body, a decoded message or a `MessageDecodeError`, never any
other exception (one would fail the message's batch-mates)."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner_core.errors import MessageDecodeError
from runner_core.messages import DecodedMessage, decode_message

# 10,000 bodies: 250 examples of 40 bodies each (Hypothesis' cost is mostly per example, so this keeps it fast).
EXAMPLES, PER_EXAMPLE = 250, 40
FAST = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KEYS = [
    "version",
    "project_hash",
    "stage_uuid",
    "tasks",
    "uuid",
    "data_hash",
    "data_title",
    "label_branch_name",
    "updated_at",
    "x",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.uuids().map(str),
    st.just(1),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=6,
)
task_like = st.fixed_dictionaries(
    {"uuid": st.uuids().map(str) | json_values, "data_hash": st.uuids().map(str) | json_values},
    optional={"data_title": json_values, "updated_at": json_values},
)
envelope_like = st.fixed_dictionaries(
    {
        "version": st.just(1) | json_values,
        "project_hash": st.uuids().map(str) | json_values,
        "stage_uuid": st.uuids().map(str) | json_values,
        "tasks": st.lists(task_like | json_values, max_size=4),
    },
)


def _hostile(text: str, depth: int, digits: int) -> str:
    """A body that breaks json.loads itself: nesting past the recursion limit, or an integer past the digit limit."""
    return "[" * depth + text + "]" * depth if depth else f'{{"version": {"9" * digits}}}'


bodies = st.one_of(
    st.text(max_size=60),
    st.binary(max_size=60),
    json_values.map(json.dumps),
    task_like.map(json.dumps),
    envelope_like.map(json.dumps),
    st.lists(task_like, max_size=3).map(json.dumps),
    st.builds(
        _hostile,
        st.sampled_from(["", "1", '{"a":1}']),
        st.sampled_from([0, 1_000, 3_000]),
        st.integers(min_value=4_301, max_value=4_400),
    ),
)


def _decoded_or_error(body: str | bytes) -> DecodedMessage | MessageDecodeError:
    try:
        return decode_message(body, max_bytes=1 << 20)
    except MessageDecodeError as exc:
        return exc


def _clean(body: str | bytes) -> None:
    outcome = _decoded_or_error(body)
    if isinstance(outcome, MessageDecodeError):
        assert str(outcome)
        assert "\n" not in str(outcome)
        return
    assert outcome.tasks
    assert all(isinstance(task.uuid, uuid.UUID) for task in outcome.tasks)


@FAST
@given(st.lists(bodies, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
def test_every_body_is_a_result_or_a_permanent_failure(batch: list[str | bytes]) -> None:
    for body in batch:
        _clean(body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"version": ' + "9" * 5_000 + "}", "not decodable JSON"),
    ],
    ids=["deep_nesting", "huge_integer"],
)
def test_the_hostile_bodies_are_permanent_failures_with_their_reason(body: str, reason: str) -> None:
    with pytest.raises(MessageDecodeError, match=reason):
        decode_message(body)
