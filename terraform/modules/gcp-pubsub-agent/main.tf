locals {
  create          = var.create
  create_producer = var.create && var.create_producer
  create_webhook  = local.create_producer && var.create_webhook
  create_schedule = local.create_producer && var.producer_schedule != null

  source_sha256 = coalesce(var.source_zip_sha256, try(filesha256(var.source_zip_path), null))
  bucket_name   = coalesce(var.source_bucket_name, try(google_storage_bucket.source[0].name, null))

  # The SSH key is a file on a secret volume (re-read on every read, so rotation works without redeploy).
  ssh_key_mount_path = "/secrets/encord"
  ssh_key_file_name  = "ssh-key"

  common_environment = merge(var.environment_variables, {
    RUNNER_TARGET       = var.runner_target
    ENCORD_DOMAIN       = var.encord_domain
    ENCORD_SSH_KEY_FILE = "${local.ssh_key_mount_path}/${local.ssh_key_file_name}"
    RUNNER_MAX_ATTEMPTS = tostring(var.max_delivery_attempts)
  }, local.ledger_environment)

  push_endpoint = coalesce(var.push_endpoint, try(google_cloudfunctions2_function.consumer[0].service_config[0].uri, null))
}

data "google_project" "this" {
  count = local.create ? 1 : 0

  project_id = var.project_id
}

################################################################################
# Service accounts: one runtime identity per function, one for push auth, one for the scheduler
################################################################################

resource "google_service_account" "consumer" {
  count = local.create ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name}-run"
  display_name = "${var.name} consumer runtime"
}

resource "google_service_account" "producer" {
  count = local.create_producer ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name}-prod"
  display_name = "${var.name} producer runtime"
}

resource "google_service_account" "invoker" {
  count = local.create ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name}-push"
  display_name = "${var.name} Pub/Sub push (OIDC) identity"
}

resource "google_service_account" "scheduler" {
  count = local.create_schedule ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name}-sched"
  display_name = "${var.name} Cloud Scheduler identity"
}

################################################################################
# Topics: work topic and dead-letter topic (with a subscription so dead letters are kept)
################################################################################

resource "google_pubsub_topic" "this" {
  count = local.create ? 1 : 0

  project      = var.project_id
  name         = var.name
  kms_key_name = var.kms_key_name
  labels       = var.labels
}

resource "google_pubsub_topic" "dead_letter" {
  count = local.create ? 1 : 0

  project      = var.project_id
  name         = "${var.name}-dead-letter"
  kms_key_name = var.kms_key_name
  labels       = var.labels
}

# A topic keeps nothing by itself: without this subscription dead-lettered messages would be lost.
resource "google_pubsub_subscription" "dead_letter" {
  count = local.create ? 1 : 0

  project                    = var.project_id
  name                       = "${var.name}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter[0].id
  message_retention_duration = var.message_retention_duration
  ack_deadline_seconds       = 60
  labels                     = var.labels

  expiration_policy {
    ttl = ""
  }
}

################################################################################
# The push subscription the module owns (an Eventarc-managed one cannot take a dead-letter policy)
################################################################################

resource "google_pubsub_subscription" "consumer" {
  count = local.create ? 1 : 0

  project = var.project_id
  name    = "${var.name}-consumer"
  topic   = google_pubsub_topic.this[0].id
  # For push this is also the HTTP request timeout: match the function so a slow task is not redelivered.
  ack_deadline_seconds       = var.consumer_timeout
  message_retention_duration = var.message_retention_duration
  labels                     = var.labels

  push_config {
    push_endpoint = local.push_endpoint

    oidc_token {
      service_account_email = google_service_account.invoker[0].email
      audience              = local.push_endpoint
    }
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[0].id
    max_delivery_attempts = var.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = var.minimum_backoff
    maximum_backoff = var.maximum_backoff
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_pubsub_topic_iam_member.dead_letter_publisher_pubsub_agent,
    google_cloud_run_v2_service_iam_member.consumer_invoker,
  ]
}

# Dead-lettering is done by the Pub/Sub service agent: it must publish to the DLT and ack on the source.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher_pubsub_agent" {
  count = local.create ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.dead_letter[0].name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:service-${data.google_project.this[0].number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_subscription_iam_member" "consumer_subscriber_pubsub_agent" {
  count = local.create ? 1 : 0

  project      = var.project_id
  subscription = google_pubsub_subscription.consumer[0].name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:service-${data.google_project.this[0].number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_service_account_iam_member" "pubsub_agent_token_creator" {
  count = local.create && var.grant_token_creator_to_pubsub_agent ? 1 : 0

  service_account_id = google_service_account.invoker[0].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:service-${data.google_project.this[0].number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

################################################################################
# Secrets: created here, values added out of band (never in Terraform state)
################################################################################

resource "google_secret_manager_secret" "ssh_key" {
  count = local.create ? 1 : 0

  project   = var.project_id
  secret_id = "${var.name}-encord-ssh-key"
  labels    = var.labels

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret" "webhook" {
  count = local.create_webhook ? 1 : 0

  project   = var.project_id
  secret_id = "${var.name}-encord-webhook-secret"
  labels    = var.labels

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "consumer_ssh_key" {
  count = local.create ? 1 : 0

  project   = var.project_id
  secret_id = google_secret_manager_secret.ssh_key[0].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.consumer[0].member
}

resource "google_secret_manager_secret_iam_member" "producer_ssh_key" {
  count = local.create_producer ? 1 : 0

  project   = var.project_id
  secret_id = google_secret_manager_secret.ssh_key[0].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.producer[0].member
}

resource "google_secret_manager_secret_iam_member" "producer_webhook" {
  count = local.create_webhook ? 1 : 0

  project   = var.project_id
  secret_id = google_secret_manager_secret.webhook[0].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.producer[0].member
}

################################################################################
# Runtime permissions on topics
################################################################################

# Permanent failures are published straight to the dead-letter topic (no need to burn the retries).
resource "google_pubsub_topic_iam_member" "consumer_dead_letter_publisher" {
  count = local.create ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.dead_letter[0].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.consumer[0].member
}

resource "google_pubsub_topic_iam_member" "producer_publisher" {
  count = local.create_producer ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.this[0].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.producer[0].member
}

################################################################################
# Source bucket and object (named by the zip's hash so a new build redeploys)
################################################################################

resource "google_storage_bucket" "source" {
  count = local.create && var.source_bucket_name == null ? 1 : 0

  project                     = var.project_id
  name                        = "${var.project_id}-${var.name}-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true
  labels                      = var.labels

  versioning {
    enabled = true
  }
}

resource "google_storage_bucket_object" "source" {
  count = local.create ? 1 : 0

  bucket = local.bucket_name
  name   = "${var.name}/source-${local.source_sha256}.zip"
  source = var.source_zip_path
}

################################################################################
# Alert: anything on the dead-letter subscription needs a human
################################################################################

resource "google_monitoring_alert_policy" "dead_letter" {
  count = local.create && var.create_dead_letter_alert ? 1 : 0

  project               = var.project_id
  display_name          = "${var.name}: dead-lettered tasks"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "dead-letter subscription not empty"

    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.dead_letter[0].name}\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    content = "Messages on ${google_pubsub_subscription.dead_letter[0].name} failed ${var.max_delivery_attempts} deliveries. Inspect them, fix the cause, then republish to ${google_pubsub_topic.this[0].name}."
  }
}
