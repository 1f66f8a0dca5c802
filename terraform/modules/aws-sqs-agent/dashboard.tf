################################################################################
# Dashboard: queue depth and age, the consumer's invocations, task outcomes and agent duration (the EMF metrics
# functions.aws writes under var.metrics_namespace, dimension service = the consumer's name).
################################################################################

variable "create_dashboard" {
  description = "Create a CloudWatch dashboard for the agent."
  type        = bool
  default     = true
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the consumer's embedded metrics (POWERTOOLS_METRICS_NAMESPACE)."
  type        = string
  default     = "runner-core"
}

locals {
  dashboard_region = data.aws_region.current.name # iam.tf
  # Every (project, stage) series of one metric of this consumer.
  outcome_search = "SEARCH('{${var.metrics_namespace},project,service,stage} service=\"${local.consumer_name}\" MetricName=\"%s\"', 'Sum', 300)"
}

resource "aws_cloudwatch_dashboard" "this" {
  count = local.create && var.create_dashboard ? 1 : 0

  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title  = "Work queue: waiting and in flight"
          region = local.dashboard_region
          stat   = "Maximum"
          period = 60
          metrics = [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.this[0].name, { label = "waiting" }],
            ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", aws_sqs_queue.this[0].name, { label = "in flight" }],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.dlq[0].name, { label = "dead letters" }],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title  = "Oldest waiting message (s)"
          region = local.dashboard_region
          stat   = "Maximum"
          period = 60
          metrics = [
            ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", aws_sqs_queue.this[0].name],
          ]
          annotations = { horizontal = [{ label = "alarm", value = var.oldest_message_age_threshold_seconds }] }
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title   = "Task outcomes (per project and stage)"
          region  = local.dashboard_region
          stacked = true
          metrics = [
            for metric in ["TasksMoved", "TasksHeld", "TasksSkippedDuplicate", "TasksSkippedNotAtStage", "TasksFailedRetryable", "TasksFailedPermanent", "MessagesDeadLettered"] :
            [{ expression = format(local.outcome_search, metric), label = metric, id = lower(metric) }]
          ]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title  = "Agent duration p50 / p90 (ms) and Encord requests"
          region = local.dashboard_region
          metrics = [
            [{ expression = "SEARCH('{${var.metrics_namespace},project,service,stage} service=\"${local.consumer_name}\" MetricName=\"AgentDuration\"', 'p50', 300)", label = "p50", id = "p50" }],
            [{ expression = "SEARCH('{${var.metrics_namespace},project,service,stage} service=\"${local.consumer_name}\" MetricName=\"AgentDuration\"', 'p90', 300)", label = "p90", id = "p90" }],
            [{ expression = format(local.outcome_search, "EncordRequests"), label = "Encord requests", id = "encord", yAxis = "right" }],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 24, height = 6
        properties = {
          title  = "Consumer: invocations, errors, throttles, cold starts"
          region = local.dashboard_region
          stat   = "Sum"
          period = 300
          metrics = [
            ["AWS/Lambda", "Invocations", "FunctionName", local.consumer_name],
            ["AWS/Lambda", "Errors", "FunctionName", local.consumer_name],
            ["AWS/Lambda", "Throttles", "FunctionName", local.consumer_name],
            [var.metrics_namespace, "ColdStart", "function_name", local.consumer_name, "service", local.consumer_name],
          ]
        }
      },
    ]
  })
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard (null when not created)."
  value       = try(aws_cloudwatch_dashboard.this[0].dashboard_name, null)
}
