"""AWS entrypoints: `consume` (SQS -> Lambda, partial batch responses) and `dispatch` (EventBridge schedule, or
Encord's signed webhook through a Lambda function URL).

Handlers: `functions.aws.consume`, `functions.aws.dispatch` and `functions.aws.webhook` (the webhook alone: the
public function URL's handler). The event source mapping must set
`function_response_types = ["ReportBatchItemFailures"]`.

Each handler only reads its event, loads the runner and hands over: the SQS consumer is `functions.sqs_consumer`,
the producer's trigger logic `functions.trigger`, Lambda's HTTP events `functions.lambda_http`.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from functions import _emf as emf
from functions import _snapstart, secrets, sqs_consumer
from functions.consumer import deadline_within
from functions.errors import ConfigurationError
from functions.settings import FunctionSettings, function_settings
from functions.structured_logs import redact_fields, take_cold_start
from functions.target import load_runner
from runner_core.errors import ConfigurationError as CoreConfigurationError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

    from functions.publishers.sqs import SqsPublisher
    from runner_core.protocols import RunnerTarget

# Cold start: `consume` never loads the producer, the webhook or the publishers (`dispatch` imports them when it
# runs), and boto3 loads on the first AWS call (a dead-letter send, a secret, a publish).

QUEUE_URL_ENV = "RUNNER_QUEUE_URL"


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON line with every string field (message, `exception`, `stack_trace`, extras) redacted."""

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        return super().serialize(log=redact_fields(log))


logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "runner-core"), logger_formatter=RedactingFormatter())
# The shared modules log through the stdlib; give them the same JSON format and fields.
copy_config_to_registered_loggers(source_logger=logger, include={"functions", "runner_core"})
_snapstart.register()  # SnapStart inits only: warm up before the snapshot, refresh what must not be shared after


def _runner(settings: FunctionSettings) -> RunnerTarget:
    """The user's runner, using the client for the Secrets Manager key when one is configured."""
    runner = load_runner(settings.target)
    client = secrets.client_from_secret(settings)
    if client is not None:
        runner.use_client(client)
    return runner


def _context_keys(context: Any, cold_start: bool) -> None:
    logger.append_keys(
        cold_start=cold_start,
        function_name=getattr(context, "function_name", None),
        function_request_id=getattr(context, "aws_request_id", None),
    )


def _deadline(context: Any, *, margin_s: float) -> float | None:
    """A `time.monotonic()` deadline leaving a margin before Lambda's timeout (tasks not started by then retry)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    return deadline_within(time.monotonic(), float(remaining()) / 1000, margin_s=margin_s)


def consume(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    """SQS batch handler: every record's tasks go through the runner together; failures are reported per record
    (`functions.sqs_consumer`). A function that cannot start (configuration, a user module that fails to import)
    makes every record retry: nothing is lost, and once fixed the records run, or the redrive policy takes them."""
    cold_start = take_cold_start()
    _context_keys(context, cold_start)
    if cold_start:
        emf.emit_cold_start(getattr(context, "function_name", None))
    raw_records = event.get("Records")
    records = [sqs_consumer.SqsRecord.parse(raw) for raw in (raw_records if isinstance(raw_records, list) else [])]
    try:
        settings = function_settings()
        runner = _runner(settings)
        deadline = _deadline(context, margin_s=settings.deadline_margin_s)
    except Exception as exc:
        # Configuration errors (ours and the core's SettingsError) are written for people and never hold a secret.
        reason = str(exc) if isinstance(exc, CoreConfigurationError) else f"function cannot start: {type(exc).__name__}"
        logger.exception("function cannot start; every record will be retried", extra={"reason": reason})
        return sqs_consumer.retry_all(records)
    return sqs_consumer.consume_records(
        records,
        runner=runner,
        settings=settings,
        deadline=deadline,
        logger=logger,
        cold_start=cold_start,
        metrics=emf.EmfMetrics(),
    )


# --- the producer ---------------------------------------------------------------------------------------------------


def _sqs_publisher(settings: FunctionSettings) -> SqsPublisher:
    from functions.publishers.sqs import SqsPublisher

    if not settings.queue_url:
        raise ConfigurationError(f"{QUEUE_URL_ENV} is not set: the SQS queue URL the dispatcher publishes to")
    return SqsPublisher(queue_url=settings.queue_url)


def dispatch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Schedule (EventBridge, or any direct invoke): publish every waiting task to RUNNER_QUEUE_URL.
    Function URL / API Gateway (event with headers and body): Encord's signed webhook for one stage."""
    from functions import lambda_http
    from functions.trigger import handle_webhook, parse_statuses, publish_waiting_tasks, statuses_from_environment

    cold_start = take_cold_start()
    _context_keys(context, cold_start)
    settings = function_settings()
    runner = _runner(settings)
    publisher = _sqs_publisher(settings)
    deadline = _deadline(context, margin_s=settings.deadline_margin_s)
    if lambda_http.is_http_event(event):
        body, headers = lambda_http.request(event)
        secret = secrets.webhook_secret(settings, allow_arn=True)
        answer = handle_webhook(body, headers, runner=runner, publisher=publisher, secret=secret, deadline=deadline)
        return lambda_http.response(answer)
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    requested = detail.get("statuses") if isinstance(detail, dict) else None
    statuses = parse_statuses(requested) if isinstance(requested, list) else statuses_from_environment(settings)
    depth = queue_depth_above_watermark(publisher, watermark=settings.dispatch_max_queue_depth)
    if depth is not None:
        logger.info("queue depth %d is above the watermark: nothing listed", depth, extra={"event": "dispatch_skipped"})
        return {"destination": publisher.queue_url, "skipped": "queue depth above watermark", "queue_depth": depth}
    return publish_waiting_tasks(runner, publisher, statuses=statuses, deadline=deadline).as_dict()


def queue_depth_above_watermark(publisher: SqsPublisher, *, watermark: int | None) -> int | None:
    """With RUNNER_DISPATCH_MAX_QUEUE_DEPTH set: the queue's visible depth when above it (skip listing: the
    consumers have plenty to do), else None. Approximate by nature, which is fine for a watermark."""
    from functions.publishers.sqs import sqs_client

    if watermark is None:
        return None
    if publisher.client is None:
        publisher.client = sqs_client()
    attributes = publisher.client.get_queue_attributes(
        QueueUrl=publisher.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    depth = int(attributes.get("ApproximateNumberOfMessages", 0))
    return depth if depth > watermark else None


def webhook(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Encord's signed webhook only (the public function URL's handler): never a schedule, whatever the event.

    The signature (and replay) is checked before the SSH key is read or the user's code is imported, so an
    unsigned flood costs one HMAC per request and no Encord call. No webhook secret configured: 500.
    """
    from functions import lambda_http
    from functions.trigger import HttpAnswer, act_on_webhook, check_webhook

    cold_start = take_cold_start()
    _context_keys(context, cold_start)
    if not lambda_http.is_http_event(event):
        return lambda_http.response(
            HttpAnswer(400, {"error": "this function answers Encord's signed webhook requests only"})
        )
    body, headers = lambda_http.request(event)
    settings = function_settings()
    rejected = check_webhook(body, headers, secret=secrets.webhook_secret(settings, allow_arn=True))
    if rejected is not None:
        return lambda_http.response(rejected)
    deadline = _deadline(context, margin_s=settings.deadline_margin_s)
    answer = act_on_webhook(body, runner=_runner(settings), publisher=_sqs_publisher(settings), deadline=deadline)
    return lambda_http.response(answer)
