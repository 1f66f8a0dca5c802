################################################################################
# Alert policies (opt-out): the agent is not keeping up, and the consumer fails. The dead-letter backlog alert is
# google_monitoring_alert_policy.dead_letter (main.tf). All notify var.notification_channels.
################################################################################

variable "create_alerts" {
  description = "Create the operational alert policies (oldest unacked message age, consumer 5xx rate). The dead-letter alert has its own switch, create_dead_letter_alert."
  type        = bool
  default     = true
}

variable "oldest_unacked_age_threshold_seconds" {
  description = "Alert when the consumer subscription's oldest unacked message is older than this: the agent is not keeping up."
  type        = number
  default     = 900

  validation {
    condition     = var.oldest_unacked_age_threshold_seconds >= 60
    error_message = "oldest_unacked_age_threshold_seconds must be at least 60."
  }
}

variable "consumer_error_rate_threshold" {
  description = "Alert when the consumer answers more than this many 5xx per second over 5 minutes. A 5xx is a nack (a retryable task failure, or a crash), so a low rate is normal while Encord throttles."
  type        = number
  default     = 0.5
}

locals {
  create_alerts = local.create && var.create_alerts
}

resource "google_monitoring_alert_policy" "oldest_unacked_age" {
  count = local.create_alerts ? 1 : 0

  project               = var.project_id
  display_name          = "${var.name}: agent not keeping up"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "oldest unacked message older than ${var.oldest_unacked_age_threshold_seconds} s"

    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.consumer[0].name}\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.oldest_unacked_age_threshold_seconds
      duration        = "180s"

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    content = "Messages on ${google_pubsub_subscription.consumer[0].name} wait over ${var.oldest_unacked_age_threshold_seconds} s: raise consumer_max_instance_count, look for a slow agent or Encord throttling (README, Operate)."
  }
}

resource "google_monitoring_alert_policy" "consumer_errors" {
  count = local.create_alerts ? 1 : 0

  project               = var.project_id
  display_name          = "${var.name}: consumer errors"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "consumer 5xx above ${var.consumer_error_rate_threshold}/s"

    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${var.name}-consumer\" AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code_class = \"5xx\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.consumer_error_rate_threshold
      duration        = "300s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    content = "The consumer ${var.name}-consumer nacks or crashes often: tasks fail retryably (Encord 429/5xx, downloads, agent exceptions) and will reach the dead-letter topic. Read its task_outcome lines with kind=failed_retryable."
  }
}

output "alert_policy_ids" {
  description = "Alert policy ids by purpose (null when not created)."
  value = {
    dead_letter_backlog = try(google_monitoring_alert_policy.dead_letter[0].id, null)
    oldest_unacked_age  = try(google_monitoring_alert_policy.oldest_unacked_age[0].id, null)
    consumer_errors     = try(google_monitoring_alert_policy.consumer_errors[0].id, null)
  }
}
