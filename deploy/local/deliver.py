"""The deliverers as processes, for `runner-core local up` (which returns while the stack keeps running).

    python -m deploy.local.deliver sqs --endpoint URL --queue-url URL --queue-arn ARN [--retry-delay S] --rie URL ...
    python -m deploy.local.deliver pubsub --emulator URL --topic T --subscription S --function-url URL

Each prints `delivering` once it polls, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from deploy.local.pubsub import DeliveryMode, PubSubPushBridge, PubSubResources, clients
from deploy.local.sqs import Invoker, RieInvoker, SqsEventSourcePoller, SqsQueues, sqs_client
from runner_core.cli_app import typer_app

READY_LINE = "delivering"

app = typer_app(no_args_is_help=True, help="Deliver queued messages to the local functions.")


def _run_until_signalled() -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    typer.echo(READY_LINE)
    while not stop.wait(0.5):
        pass


@app.command()
def sqs(
    endpoint: Annotated[str, typer.Option(help="moto_server URL.")],
    queue_url: Annotated[str, typer.Option(help="The queue to poll.")],
    queue_arn: Annotated[str, typer.Option(help="Its ARN (the records' eventSourceARN).")],
    rie: Annotated[list[str], typer.Option(help="Base URL of a RIE running the consumer; repeat for concurrency.")],
    batch_size: Annotated[int, typer.Option(min=1, max=10)] = 10,
    retry_delay: Annotated[
        int | None, typer.Option(min=0, help="Local-only: failed records visible again after this many seconds.")
    ] = None,
) -> None:
    """Lambda's SQS event source mapping: batches from --queue-url to the consumer in each --rie."""
    fifo = queue_url.endswith(".fifo")
    queues = SqsQueues(queue_url=queue_url, queue_arn=queue_arn, dlq_url="", dlq_arn="", fifo=fifo, max_receive_count=0)
    invokers: list[Invoker] = [RieInvoker(url) for url in rie]
    poller = SqsEventSourcePoller(
        sqs=sqs_client(endpoint), queues=queues, invokers=invokers, batch_size=batch_size, retry_delay_s=retry_delay
    )
    with poller:
        _run_until_signalled()


@app.command()
def pubsub(
    emulator: Annotated[str, typer.Option(help="Pub/Sub emulator URL.")],
    topic: Annotated[str, typer.Option(help="Full topic name (projects/P/topics/T).")],
    subscription: Annotated[str, typer.Option(help="Full subscription name to pull from.")],
    function_url: Annotated[str, typer.Option(help="The consumer served by functions-framework.")],
    concurrency: Annotated[int, typer.Option(min=1)] = 4,
    mode: Annotated[str, typer.Option(help="push (raw push body, the default) or cloudevent (Eventarc).")] = "push",
) -> None:
    """A push subscription (or Eventarc): each message POSTed to --function-url, acked on 2xx, nacked otherwise."""
    if mode not in ("cloudevent", "push"):
        raise typer.BadParameter("mode must be cloudevent or push")
    delivery: DeliveryMode = "cloudevent" if mode == "cloudevent" else "push"
    _, subscriber = clients(emulator)
    project = topic.split("/")[1]
    resources = PubSubResources(project, topic, subscription, "", "", 0)
    bridge = PubSubPushBridge(
        subscriber=subscriber, resources=resources, function_url=function_url, concurrency=concurrency, mode=delivery
    )
    with bridge:
        _run_until_signalled()


if __name__ == "__main__":
    app()
