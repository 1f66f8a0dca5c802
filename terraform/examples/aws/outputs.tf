output "queue_url" {
  description = "Send envelope v1 messages here to run tasks now."
  value       = module.agent.queue_url
}

output "dead_letter_queue_url" {
  description = "Failed messages end up here after max_receive_count deliveries."
  value       = module.agent.dead_letter_queue_url
}

output "ssh_key_secret_arn" {
  description = "Put the Encord SSH private key into this secret."
  value       = module.agent.ssh_key_secret_arn
}

output "webhook_secret_arn" {
  description = "Put the webhook HMAC secret into this secret (when the webhook is on)."
  value       = module.agent.webhook_secret_arn
}

output "webhook_url" {
  description = "Register this URL as the Encord webhook (when the webhook is on)."
  value       = module.agent.webhook_url
}

output "producer_function_name" {
  description = "Invoke this function to enqueue the waiting tasks right away."
  value       = module.agent.producer_function_name
}

output "ledger_table_name" {
  description = "The task ledger's DynamoDB table (RUNNER_LEDGER_TABLE of both functions)."
  value       = module.agent.ledger_table_name
}

output "consumer_function_name" {
  description = "The consumer function (its logs: /aws/lambda/<name>)."
  value       = module.agent.consumer_function_name
}

output "package_s3_bucket" {
  description = "The bucket holding the zip."
  value       = module.agent.package_s3_bucket
}

output "package_s3_key" {
  description = "The zip's key; each build is a new version."
  value       = module.agent.package_s3_key
}

output "package_s3_object_version" {
  description = "The version the functions run (roll back by applying an older one, see README)."
  value       = module.agent.package_s3_object_version
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify: subscribe your on-call address to it."
  value       = module.agent.alarm_topic_arn
}
