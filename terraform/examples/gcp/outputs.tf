output "topic_id" {
  description = "Publish envelope v1 messages here to run tasks now."
  value       = module.agent.topic_id
}

output "dead_letter_subscription_id" {
  description = "Failed messages end up here after max_delivery_attempts."
  value       = module.agent.dead_letter_subscription_id
}

output "ssh_key_secret_id" {
  description = "Add the Encord SSH private key as a version of this secret."
  value       = module.agent.ssh_key_secret_id
}

output "webhook_secret_id" {
  description = "Add the webhook HMAC secret as version 1 of this secret (when the webhook is on)."
  value       = module.agent.webhook_secret_id
}

output "webhook_url" {
  description = "Register this URL as the Encord webhook (when the webhook is on)."
  value       = module.agent.webhook_url
}
