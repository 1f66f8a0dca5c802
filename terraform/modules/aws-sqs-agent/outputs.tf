output "queue_url" {
  description = "URL of the work queue (send envelope v1 messages here)."
  value       = try(aws_sqs_queue.this[0].url, null)
}

output "queue_arn" {
  description = "ARN of the work queue."
  value       = try(aws_sqs_queue.this[0].arn, null)
}

output "queue_name" {
  description = "Name of the work queue."
  value       = try(aws_sqs_queue.this[0].name, null)
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue."
  value       = try(aws_sqs_queue.dlq[0].url, null)
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue."
  value       = try(aws_sqs_queue.dlq[0].arn, null)
}

output "dead_letter_queue_name" {
  description = "Name of the dead-letter queue."
  value       = try(aws_sqs_queue.dlq[0].name, null)
}

output "visibility_timeout_seconds" {
  description = "Visibility timeout applied to the work queue (at least 6x the consumer timeout)."
  value       = local.visibility_timeout_seconds
}

output "consumer_function_name" {
  description = "Name of the consumer Lambda function."
  value       = try(aws_lambda_function.consumer[0].function_name, null)
}

output "consumer_function_arn" {
  description = "ARN of the consumer Lambda function."
  value       = try(aws_lambda_function.consumer[0].arn, null)
}

output "consumer_role_arn" {
  description = "ARN of the consumer's IAM role."
  value       = try(aws_iam_role.consumer[0].arn, null)
}

output "event_source_mapping_uuid" {
  description = "UUID of the SQS event source mapping."
  value       = try(aws_lambda_event_source_mapping.consumer[0].uuid, null)
}

output "producer_function_name" {
  description = "Name of the producer Lambda function (null when not created)."
  value       = try(aws_lambda_function.producer[0].function_name, null)
}

output "producer_function_arn" {
  description = "ARN of the producer Lambda function (null when not created)."
  value       = try(aws_lambda_function.producer[0].arn, null)
}

output "producer_role_arn" {
  description = "ARN of the producer's IAM role (null when not created)."
  value       = try(aws_iam_role.producer[0].arn, null)
}

output "webhook_url" {
  description = "Function URL to register as the Encord webhook (null when create_webhook_url is false)."
  value       = try(aws_lambda_function_url.webhook[0].function_url, null)
}

output "ssh_key_secret_arn" {
  description = "ARN of the Secrets Manager secret to put the Encord SSH private key into."
  value       = try(aws_secretsmanager_secret.ssh_key[0].arn, null)
}

output "webhook_secret_arn" {
  description = "ARN of the Secrets Manager secret to put the webhook HMAC secret into (null without webhook)."
  value       = try(aws_secretsmanager_secret.webhook[0].arn, null)
}

output "dlq_alarm_arn" {
  description = "ARN of the CloudWatch alarm on the dead-letter queue depth."
  value       = try(aws_cloudwatch_metric_alarm.dlq[0].arn, null)
}

output "package_s3_bucket" {
  description = "The bucket holding the zip (null for an image)."
  value       = local.package_s3_bucket
}

output "package_s3_key" {
  description = "The zip's S3 key (null for an image); each build is a new version of it."
  value       = local.package_s3_key
}

output "package_s3_object_version" {
  description = "The object version the functions run (roll back by re-pointing at an older one)."
  value       = try(aws_s3_object.package[0].version_id, null)
}
