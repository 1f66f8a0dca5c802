################################################################################
# Alarms (opt-out): the agent is not keeping up, the consumer fails or is throttled. The dead-letter alarm is
# aws_cloudwatch_metric_alarm.dlq (main.tf). All of them notify local.alarm_actions: the SNS topic you pass, or
# one the module creates, plus any var.alarm_actions.
################################################################################

variable "create_alarms" {
  description = "Create the operational alarms (oldest message age, consumer errors, consumer throttles). The dead-letter alarm has its own switch, create_dlq_alarm."
  type        = bool
  default     = true
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic every alarm notifies. Null: the module creates one (when create_alarm_topic is true)."
  type        = string
  default     = null
}

variable "create_alarm_topic" {
  description = "Create an SNS topic for the alarms when alarm_sns_topic_arn is null (subscribe your people to it)."
  type        = bool
  default     = true
}

variable "alarm_topic_kms_key_id" {
  description = "KMS key for the created alarm topic. Default: the AWS-managed SNS key."
  type        = string
  default     = "alias/aws/sns"
}

variable "oldest_message_age_threshold_seconds" {
  description = "Alarm when the oldest message in the work queue is older than this: the agent is not keeping up."
  type        = number
  default     = 900

  validation {
    condition     = var.oldest_message_age_threshold_seconds >= 60
    error_message = "oldest_message_age_threshold_seconds must be at least 60 (SQS reports the age once a minute)."
  }
}

variable "consumer_errors_threshold" {
  description = "Alarm when the consumer's invocation errors (crashes, timeouts; not task failures, which are partial batch responses) exceed this many in 5 minutes."
  type        = number
  default     = 0
}

variable "consumer_throttles_threshold" {
  description = "Alarm when the consumer's throttled invocations exceed this many in 5 minutes (concurrency limit reached)."
  type        = number
  default     = 0
}

locals {
  create_alarms      = local.create && var.create_alarms
  create_alarm_topic = local.create && var.alarm_sns_topic_arn == null && var.create_alarm_topic && (var.create_alarms || var.create_dlq_alarm)
  alarm_topic_arn    = var.alarm_sns_topic_arn != null ? var.alarm_sns_topic_arn : try(aws_sns_topic.alarms[0].arn, null)
  alarm_actions      = compact(concat(var.alarm_actions, [local.alarm_topic_arn]))
  ok_actions         = compact(concat(var.ok_actions, [local.alarm_topic_arn]))
}

resource "aws_sns_topic" "alarms" {
  count = local.create_alarm_topic ? 1 : 0

  name              = "${var.name}-alarms"
  kms_master_key_id = var.alarm_topic_kms_key_id

  tags = var.tags
}

# CloudWatch must be allowed to publish to an encrypted topic it does not own.
data "aws_iam_policy_document" "alarm_topic" {
  count = local.create_alarm_topic ? 1 : 0

  statement {
    sid       = "CloudWatchAlarms"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms[0].arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  count = local.create_alarm_topic ? 1 : 0

  arn    = aws_sns_topic.alarms[0].arn
  policy = data.aws_iam_policy_document.alarm_topic[0].json
}

resource "aws_cloudwatch_metric_alarm" "oldest_message_age" {
  count = local.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-oldest-message-age"
  alarm_description   = "The oldest message in ${aws_sqs_queue.this[0].name} waited over ${var.oldest_message_age_threshold_seconds} s: the agent is not keeping up (too little concurrency, slow agent, Encord throttling) or the consumer is stuck. See README, Operate."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.this[0].name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.oldest_message_age_threshold_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.ok_actions

  tags = var.tags
}

# The consumer's Lambda metrics alarm alike (a sum over 5 minutes above a threshold): one resource, an entry each.
locals {
  consumer_alarms = {
    errors = {
      metric_name = "Errors"
      description = "The consumer ${local.consumer_name} failed whole invocations (crash, timeout, cannot start): its batches are retried and end in the DLQ if it persists. Check its logs."
      threshold   = var.consumer_errors_threshold
    }
    throttles = {
      metric_name = "Throttles"
      description = "The consumer ${local.consumer_name} was throttled: its concurrency (reserved or account) is exhausted, so messages wait. Raise the limit or the batch size."
      threshold   = var.consumer_throttles_threshold
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "consumer" {
  for_each = local.create_alarms ? local.consumer_alarms : {}

  alarm_name          = "${var.name}-consumer-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric_name
  dimensions          = { FunctionName = local.consumer_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.ok_actions

  tags = var.tags
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify (the one passed, or the one created; null when neither)."
  value       = local.alarm_topic_arn
}

output "alarm_arns" {
  description = "ARNs of the operational alarms, by purpose (null when not created)."
  value = {
    dead_letter_queue_not_empty = try(aws_cloudwatch_metric_alarm.dlq[0].arn, null)
    oldest_message_age          = try(aws_cloudwatch_metric_alarm.oldest_message_age[0].arn, null)
    consumer_errors             = try(aws_cloudwatch_metric_alarm.consumer["errors"].arn, null)
    consumer_throttles          = try(aws_cloudwatch_metric_alarm.consumer["throttles"].arn, null)
  }
}
