"""The dead-letter source of a deployment, with its cloud's client (imported only when that cloud is used)."""

from __future__ import annotations

from deploy.ops.deployment import Deployment, DeploymentError
from deploy.ops.redrive import DeadLetterSource


def dead_letter_source(deployment: Deployment, *, lease_s: int = 60) -> DeadLetterSource:
    """boto3 honours AWS_ENDPOINT_URL and google-cloud-pubsub PUBSUB_EMULATOR_HOST, so the same code reads moto and
    the Pub/Sub emulator locally."""
    if deployment.cloud == "aws":
        if not deployment.dead_letter_queue_url:
            raise DeploymentError("no dead-letter queue: give --sqs-dlq-url or outputs with dead_letter_queue_url")
        from deploy.ops.sqs_dlq import SqsDeadLetters
        from functions.publishers.sqs import sqs_client

        return SqsDeadLetters(
            client=sqs_client(),
            dlq_url=deployment.dead_letter_queue_url,
            queue_url=deployment.queue_url,
            lease_s=lease_s,
        )
    if not deployment.dead_letter_subscription:
        raise DeploymentError(
            "no dead-letter subscription: give --pubsub-dead-letter-subscription or outputs with "
            "dead_letter_subscription_id"
        )
    from google.cloud import pubsub_v1

    from deploy.ops.pubsub_dlq import PubSubDeadLetters
    from functions.publishers.pubsub import publisher_client

    return PubSubDeadLetters(
        subscriber=pubsub_v1.SubscriberClient(),
        publisher=publisher_client(),
        subscription=deployment.dead_letter_subscription,
        topic=deployment.topic,
    )
