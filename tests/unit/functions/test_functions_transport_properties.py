"""Property tests of the fields AWS and Google fill around a body: whatever they hold, a clean message (or, on GCP,
a clean `TransportDecodeError`), never another exception that would fail the batch or nack forever."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions import gcp, sqs_consumer
from functions.errors import TransportDecodeError
from runner_core.outcomes import QueueMessage

# 10,000 generated events per decoder: 250 examples of 40 (Hypothesis' cost is mostly per example).
EXAMPLES, PER_EXAMPLE = 250, 40
FAST = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

odd_numbers = st.sampled_from(["²", "\u0661\u0662", "-1", "1e3", " 7", "9" * 5000, "0x10", "", "NaN"])
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20), odd_numbers
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)

sqs_records = st.fixed_dictionaries(
    {"messageId": st.uuids().map(str) | values, "body": st.text(max_size=40) | values},
    optional={
        "attributes": values
        | st.fixed_dictionaries({}, optional={"ApproximateReceiveCount": values, "MessageGroupId": values}),
        "eventSourceARN": values,
    },
)
pubsub_payloads = st.fixed_dictionaries(
    {},
    optional={
        "message": values
        | st.fixed_dictionaries(
            {},
            optional={
                "messageId": values,
                "message_id": values,
                "data": values | st.binary(max_size=20).map(lambda b: b.hex()),
                "attributes": values,
                "orderingKey": values,
            },
        ),
        "deliveryAttempt": values,
        "subscription": values,
    },
)


@FAST
@given(st.lists(sqs_records, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
def test_every_sqs_record_becomes_a_queue_message(records: list[dict[str, Any]]) -> None:
    for record in records:
        parsed = sqs_consumer.SqsRecord.parse(record)
        message = sqs_consumer.queue_message(parsed, 5)
        assert isinstance(message, QueueMessage)
        assert message.attempt >= 1
        assert isinstance(parsed.group, str)


@FAST
@given(st.lists(pubsub_payloads, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
def test_every_pubsub_payload_is_a_message_or_a_transport_error(payloads: list[dict[str, Any]]) -> None:
    for payload in payloads:
        outcome = _pushed_or_error(payload)
        if isinstance(outcome, TransportDecodeError):
            assert str(outcome)
            continue
        assert isinstance(outcome.data, bytes)
        assert outcome.delivery_attempt is None or 0 <= outcome.delivery_attempt < 1_000_000


def _pushed_or_error(payload: dict[str, Any]) -> gcp.PushedMessage | TransportDecodeError:
    try:
        return gcp.pushed_message(payload)
    except TransportDecodeError as exc:
        return exc


def test_odd_delivery_attempts_are_ignored_not_raised() -> None:
    for odd in ("²", "\u0661\u0662", "-1", "9" * 5000, True, 10**20, 1.5):
        assert gcp.pushed_message({"message": {"messageId": "m"}, "deliveryAttempt": odd}).delivery_attempt is None
    assert gcp.pushed_message({"message": {"messageId": "m"}, "deliveryAttempt": "3"}).delivery_attempt == 3


def test_non_dict_sqs_attributes_count_as_none() -> None:
    for odd in ("x", ["MessageGroupId"], 7, None):
        message = sqs_consumer.queue_message(
            sqs_consumer.SqsRecord.parse({"messageId": "m", "body": "{}", "attributes": odd}), 5
        )
        assert message.attempt == 1
