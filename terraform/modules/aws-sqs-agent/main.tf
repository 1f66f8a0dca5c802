locals {
  create          = var.create
  create_producer = var.create && var.create_producer
  create_webhook  = local.create_producer && var.create_webhook_url

  fifo_suffix = var.fifo_queue ? ".fifo" : ""
  # AWS guidance: at least 6x the function timeout, so a batch still running is never delivered twice.
  visibility_timeout_seconds = coalesce(var.visibility_timeout_seconds, 6 * var.consumer_timeout)

  consumer_name = "${var.name}-consumer"
  producer_name = "${var.name}-producer"

  common_environment = merge(var.environment_variables, {
    RUNNER_TARGET             = var.runner_target
    ENCORD_DOMAIN             = var.encord_domain
    ENCORD_SSH_KEY_SECRET_ARN = try(aws_secretsmanager_secret.ssh_key[0].arn, "")
    RUNNER_MAX_ATTEMPTS       = tostring(var.max_receive_count)
  }, local.ledger_environment)
}

################################################################################
# Queues: work queue with SSE and redrive to a dead-letter queue
################################################################################

resource "aws_sqs_queue" "dlq" {
  count = local.create ? 1 : 0

  name                        = "${var.name}-dlq${local.fifo_suffix}"
  fifo_queue                  = var.fifo_queue
  content_based_deduplication = var.fifo_queue ? var.content_based_deduplication : null
  message_retention_seconds   = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled     = var.kms_master_key_id == null ? true : null
  kms_master_key_id           = var.kms_master_key_id

  tags = var.tags
}

resource "aws_sqs_queue" "this" {
  count = local.create ? 1 : 0

  name                        = "${var.name}${local.fifo_suffix}"
  fifo_queue                  = var.fifo_queue
  content_based_deduplication = var.fifo_queue ? var.content_based_deduplication : null
  visibility_timeout_seconds  = local.visibility_timeout_seconds
  message_retention_seconds   = var.message_retention_seconds
  sqs_managed_sse_enabled     = var.kms_master_key_id == null ? true : null
  kms_master_key_id           = var.kms_master_key_id

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[0].arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
}

# Only our work queue may redrive into the DLQ.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  count = local.create && var.create_dlq_redrive_allow_policy ? 1 : 0

  queue_url = aws_sqs_queue.dlq[0].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this[0].arn]
  })
}

################################################################################
# Secrets: the module creates them, the value is put out of band (never in state)
################################################################################

resource "aws_secretsmanager_secret" "ssh_key" {
  #checkov:skip=CKV2_AWS_57:Encord SSH keys and webhook secrets are issued in Encord's UI; no rotation Lambda can create them, they are rotated by putting a new value
  count = local.create ? 1 : 0

  name                    = "${var.name}/encord-ssh-key"
  description             = "Encord service account SSH private key for ${var.name}. Put the value with `aws secretsmanager put-secret-value`."
  kms_key_id              = var.secrets_kms_key_id
  recovery_window_in_days = var.secret_recovery_window_in_days

  tags = var.tags
}

resource "aws_secretsmanager_secret" "webhook" {
  #checkov:skip=CKV2_AWS_57:Encord SSH keys and webhook secrets are issued in Encord's UI; no rotation Lambda can create them, they are rotated by putting a new value
  count = local.create_webhook ? 1 : 0

  name                    = "${var.name}/encord-webhook-secret"
  description             = "HMAC secret of the Encord webhook for ${var.name}. Put the value with `aws secretsmanager put-secret-value`."
  kms_key_id              = var.secrets_kms_key_id
  recovery_window_in_days = var.secret_recovery_window_in_days

  tags = var.tags
}

################################################################################
# Log groups (created before the functions so retention applies from the first line)
################################################################################

resource "aws_cloudwatch_log_group" "consumer" {
  #checkov:skip=CKV_AWS_338:Retention is var.cloudwatch_logs_retention_in_days (default 30 days); a year of logs is the caller's compliance choice
  count = local.create ? 1 : 0

  name              = "/aws/lambda/${local.consumer_name}"
  retention_in_days = var.cloudwatch_logs_retention_in_days
  kms_key_id        = var.cloudwatch_logs_kms_key_id

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "producer" {
  #checkov:skip=CKV_AWS_338:Retention is var.cloudwatch_logs_retention_in_days (default 30 days); a year of logs is the caller's compliance choice
  count = local.create_producer ? 1 : 0

  name              = "/aws/lambda/${local.producer_name}"
  retention_in_days = var.cloudwatch_logs_retention_in_days
  kms_key_id        = var.cloudwatch_logs_kms_key_id

  tags = var.tags
}

################################################################################
# Alarm: anything in the DLQ needs a human
################################################################################

resource "aws_cloudwatch_metric_alarm" "dlq" {
  count = local.create && var.create_dlq_alarm ? 1 : 0

  alarm_name          = "${var.name}-dlq-not-empty"
  alarm_description   = "Messages in ${aws_sqs_queue.dlq[0].name}: tasks failed ${var.max_receive_count} times. Inspect, fix, then redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq[0].name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.ok_actions

  tags = var.tags
}
