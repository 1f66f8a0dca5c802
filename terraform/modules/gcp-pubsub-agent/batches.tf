################################################################################
# Batches: N tasks per Pub/Sub message, per-task outcomes kept
#
# The producer packs `tasks_per_message` tasks into each message, so one push request runs them as one runner
# batch (Encord requests per task like Lambda's SQS batches). A partly failed message sends back only its failed
# tasks: the consumer republishes them to this topic with the attempts they used (attribute
# runner_prior_attempts) and acks the original; a task out of attempts is dead-lettered with its reason. The
# consumer counts a task's attempt as prior attempts + deliveryAttempt, so it reaches RUNNER_MAX_ATTEMPTS
# (= max_delivery_attempts) no later than the subscription's own dead-letter policy would act.
#
# Sizing: one request is one batch, so by default the consumer serves one request per instance
# (consumer_max_instance_request_concurrency = 1) and `consumer_timeout` (= the ack deadline) must cover a whole
# batch. At most consumer_max_instance_count x concurrency x tasks_per_message tasks run at once.
################################################################################

variable "tasks_per_message" {
  description = "Tasks the producer packs into one Pub/Sub message (one push request runs them as one batch). Default 10, as Lambda's SQS batch."
  type        = number
  default     = 10

  validation {
    condition     = var.tasks_per_message >= 1 && var.tasks_per_message <= 1000
    error_message = "tasks_per_message must be between 1 and 1000 (a message holds at most 10 MB)."
  }
}

locals {
  producer_batch_environment = {
    RUNNER_TASKS_PER_MESSAGE = tostring(var.tasks_per_message)
  }
  consumer_batch_environment = {
    # Where the consumer republishes the failed tasks of a partly failed message.
    RUNNER_TOPIC = try(google_pubsub_topic.this[0].id, "")
  }
}

resource "google_pubsub_topic_iam_member" "consumer_republisher" {
  count = local.create ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.this[0].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.consumer[0].member
}
