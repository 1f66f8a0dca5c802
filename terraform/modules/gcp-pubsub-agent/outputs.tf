output "topic_id" {
  description = "Full name of the work topic (projects/P/topics/T): publish envelope v1 messages here."
  value       = try(google_pubsub_topic.this[0].id, null)
}

output "dead_letter_topic_id" {
  description = "Full name of the dead-letter topic."
  value       = try(google_pubsub_topic.dead_letter[0].id, null)
}

output "subscription_id" {
  description = "Full name of the push subscription feeding the consumer."
  value       = try(google_pubsub_subscription.consumer[0].id, null)
}

output "dead_letter_subscription_id" {
  description = "Full name of the subscription holding dead-lettered messages."
  value       = try(google_pubsub_subscription.dead_letter[0].id, null)
}

output "consumer_function_uri" {
  description = "URL of the consumer function (the push endpoint unless push_endpoint is set)."
  value       = try(google_cloudfunctions2_function.consumer[0].service_config[0].uri, null)
}

output "producer_function_uri" {
  description = "URL of the scheduled producer function (internal only)."
  value       = try(google_cloudfunctions2_function.producer[0].service_config[0].uri, null)
}

output "webhook_url" {
  description = "URL to register as the Encord webhook (null when create_webhook is false)."
  value       = try(google_cloudfunctions2_function.webhook[0].service_config[0].uri, null)
}

output "ssh_key_secret_id" {
  description = "Secret Manager secret to add the Encord SSH private key to."
  value       = try(google_secret_manager_secret.ssh_key[0].secret_id, null)
}

output "webhook_secret_id" {
  description = "Secret Manager secret to add the webhook HMAC secret to (null without webhook)."
  value       = try(google_secret_manager_secret.webhook[0].secret_id, null)
}

output "consumer_service_account_email" {
  description = "Runtime identity of the consumer."
  value       = try(google_service_account.consumer[0].email, null)
}

output "producer_service_account_email" {
  description = "Runtime identity of the producer."
  value       = try(google_service_account.producer[0].email, null)
}

output "invoker_service_account_email" {
  description = "Identity the push subscription signs its OIDC tokens with."
  value       = try(google_service_account.invoker[0].email, null)
}
