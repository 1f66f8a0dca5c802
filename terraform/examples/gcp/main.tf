# A complete deployment: Pub/Sub push -> Cloud Functions gen2 consumer, scheduled producer, secrets,
# dead-letter topic with an alert.
#
#   runner-core build gcp --target my_agent.agent:runner --out build/gcp
#   terraform -chdir=terraform/examples/gcp apply -var project_id=my-project -var runner_target=my_agent.agent:runner

provider "google" {
  project = var.project_id
  region  = var.region
}

resource "google_monitoring_notification_channel" "email" {
  count = var.alert_email == null ? 0 : 1

  display_name = "${var.name} on-call"
  type         = "email"
  labels       = { email_address = var.alert_email }
}

module "agent" {
  source = "../../modules/gcp-pubsub-agent"

  project_id      = var.project_id
  region          = var.region
  name            = var.name
  source_zip_path = abspath(var.source_zip_path)
  runner_target   = var.runner_target

  # Resources: size them to the agent (README, "Sizing").
  consumer_timeout                          = 300
  consumer_memory                           = var.consumer_memory
  consumer_cpu                              = var.consumer_cpu
  consumer_max_instance_count               = var.consumer_max_instance_count
  consumer_min_instance_count               = var.consumer_min_instance_count
  consumer_max_instance_request_concurrency = var.consumer_concurrency
  max_delivery_attempts                     = 5

  create_webhook        = var.create_webhook
  notification_channels = google_monitoring_notification_channel.email[*].id

  labels = { app = "runner-core" }
}
