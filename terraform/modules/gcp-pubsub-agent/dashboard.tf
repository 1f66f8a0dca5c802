################################################################################
# Dashboard: backlog and age of the consumer subscription, dead letters, task outcomes by kind, agent duration
# (the log-based metrics of metrics.tf).
################################################################################

variable "create_dashboard" {
  description = "Create a Cloud Monitoring dashboard for the agent (its outcome charts need create_log_metrics)."
  type        = bool
  default     = true
}

locals {
  subscription_filter = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"%s\" AND metric.type = \"pubsub.googleapis.com/subscription/%s\""
  user_metric_filter  = "metric.type = \"logging.googleapis.com/user/${var.name}/%s\""
  consumer_sub_name   = try(google_pubsub_subscription.consumer[0].name, "")
  dead_letter_sub     = try(google_pubsub_subscription.dead_letter[0].name, "")

  dashboard_charts = [
    {
      title  = "Waiting messages"
      filter = format(local.subscription_filter, local.consumer_sub_name, "num_undelivered_messages")
      align  = "ALIGN_MAX", reduce = "REDUCE_SUM", group_by = []
    },
    {
      title  = "Oldest unacked message (s)"
      filter = format(local.subscription_filter, local.consumer_sub_name, "oldest_unacked_message_age")
      align  = "ALIGN_MAX", reduce = "REDUCE_MAX", group_by = []
    },
    {
      title  = "Dead letters waiting"
      filter = format(local.subscription_filter, local.dead_letter_sub, "num_undelivered_messages")
      align  = "ALIGN_MAX", reduce = "REDUCE_SUM", group_by = []
    },
    {
      title  = "Task outcomes by kind"
      filter = format(local.user_metric_filter, "task_outcomes")
      align  = "ALIGN_SUM", reduce = "REDUCE_SUM", group_by = ["metric.label.kind"]
    },
    {
      title  = "Agent duration p90 (ms)"
      filter = format(local.user_metric_filter, "agent_duration")
      align  = "ALIGN_DELTA", reduce = "REDUCE_PERCENTILE_90", group_by = ["metric.label.stage"]
    },
    {
      title  = "Dead-lettered by the consumer"
      filter = format(local.user_metric_filter, "dead_lettered")
      align  = "ALIGN_SUM", reduce = "REDUCE_SUM", group_by = ["metric.label.stage"]
    },
  ]
}

resource "google_monitoring_dashboard" "this" {
  count = local.create && var.create_dashboard ? 1 : 0

  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "${var.name} agent"
    gridLayout = {
      columns = 2
      widgets = [
        for chart in local.dashboard_charts : {
          title = chart.title
          xyChart = {
            dataSets = [{
              plotType = "LINE"
              timeSeriesQuery = {
                timeSeriesFilter = {
                  filter = chart.filter
                  aggregation = {
                    alignmentPeriod    = "60s"
                    perSeriesAligner   = chart.align
                    crossSeriesReducer = chart.reduce
                    groupByFields      = chart.group_by
                  }
                }
              }
            }]
          }
        }
      ]
    }
  })
}

output "dashboard_id" {
  description = "Id of the Cloud Monitoring dashboard (null when not created)."
  value       = try(google_monitoring_dashboard.this[0].id, null)
}
