################################################################################
# Consumer: HTTP function behind the module's push subscription
################################################################################

resource "google_cloudfunctions2_function" "consumer" {
  count = local.create ? 1 : 0

  project     = var.project_id
  location    = var.region
  name        = "${var.name}-consumer"
  description = "Runs the ${var.runner_target} task agent on messages pushed from ${google_pubsub_topic.this[0].name}."
  labels      = var.labels

  build_config {
    runtime     = var.runtime
    entry_point = var.consumer_entry_point

    source {
      storage_source {
        bucket = google_storage_bucket_object.source[0].bucket
        object = google_storage_bucket_object.source[0].name
      }
    }
  }

  service_config {
    timeout_seconds                  = var.consumer_timeout
    available_memory                 = var.consumer_memory
    available_cpu                    = var.consumer_cpu
    max_instance_count               = var.consumer_max_instance_count
    min_instance_count               = var.consumer_min_instance_count
    max_instance_request_concurrency = var.consumer_max_instance_request_concurrency # default 1: one batch (batches.tf)
    ingress_settings                 = var.consumer_ingress_settings
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.consumer[0].email

    environment_variables = merge(local.common_environment, local.consumer_batch_environment, {
      RUNNER_DEAD_LETTER_TOPIC = google_pubsub_topic.dead_letter[0].id
      # No remaining-time API on Cloud Functions: the handler stops starting tasks before this runs out.
      RUNNER_FUNCTION_TIMEOUT_S = tostring(var.consumer_timeout)
    })

    secret_volumes {
      mount_path = local.ssh_key_mount_path
      project_id = var.project_id
      secret     = google_secret_manager_secret.ssh_key[0].secret_id

      versions {
        version = var.ssh_key_secret_version
        path    = local.ssh_key_file_name
      }
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.consumer_ssh_key]
}

# Only the push identity may call the consumer.
resource "google_cloud_run_v2_service_iam_member" "consumer_invoker" {
  count = local.create ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.consumer[0].service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.invoker[0].member
}

################################################################################
# Producer: Cloud Scheduler (OIDC), internal only. An unsigned request is a schedule trigger, which is
# why Encord's webhook gets its own public function below instead of opening this one.
################################################################################

locals {
  producer_source = {
    bucket = try(google_storage_bucket_object.source[0].bucket, null)
    object = try(google_storage_bucket_object.source[0].name, null)
  }
  producer_environment = merge(local.common_environment, local.producer_batch_environment, {
    RUNNER_TOPIC             = try(google_pubsub_topic.this[0].id, "")
    RUNNER_PROJECT_ALLOWLIST = join(",", var.project_allowlist)
  })
}

resource "google_cloudfunctions2_function" "producer" {
  count = local.create_producer ? 1 : 0

  project     = var.project_id
  location    = var.region
  name        = "${var.name}-producer"
  description = "Publishes the waiting tasks of ${var.runner_target} to ${google_pubsub_topic.this[0].name} on a schedule."
  labels      = var.labels

  build_config {
    runtime     = var.runtime
    entry_point = var.producer_entry_point

    source {
      storage_source {
        bucket = local.producer_source.bucket
        object = local.producer_source.object
      }
    }
  }

  service_config {
    timeout_seconds                = var.producer_timeout
    available_memory               = var.producer_memory
    max_instance_count             = 2
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.producer[0].email
    environment_variables          = local.producer_environment

    secret_volumes {
      mount_path = local.ssh_key_mount_path
      project_id = var.project_id
      secret     = google_secret_manager_secret.ssh_key[0].secret_id

      versions {
        version = var.ssh_key_secret_version
        path    = local.ssh_key_file_name
      }
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.producer_ssh_key]
}

resource "google_cloud_run_v2_service_iam_member" "producer_scheduler_invoker" {
  count = local.create_schedule ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.producer[0].service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler[0].member
}

resource "google_cloud_scheduler_job" "producer" {
  count = local.create_schedule ? 1 : 0

  project     = var.project_id
  region      = var.region
  name        = "${var.name}-producer"
  description = "Runs ${google_cloudfunctions2_function.producer[0].name} to publish waiting Encord tasks."
  schedule    = var.producer_schedule
  time_zone   = var.scheduler_time_zone

  retry_config {
    retry_count = 1
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.producer[0].service_config[0].uri
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode(jsonencode({ source = "schedule" }))

    oidc_token {
      service_account_email = google_service_account.scheduler[0].email
      audience              = google_cloudfunctions2_function.producer[0].service_config[0].uri
    }
  }
}

################################################################################
# Webhook: its own entry point (signed requests only), public, with a bounded instance count
################################################################################

resource "google_cloudfunctions2_function" "webhook" {
  count = local.create_webhook ? 1 : 0

  project     = var.project_id
  location    = var.region
  name        = "${var.name}-webhook"
  description = "Encord webhook for ${var.runner_target}: verifies the signature, then publishes to ${google_pubsub_topic.this[0].name}."
  labels      = var.labels

  build_config {
    runtime     = var.runtime
    entry_point = var.webhook_entry_point

    source {
      storage_source {
        bucket = local.producer_source.bucket
        object = local.producer_source.object
      }
    }
  }

  service_config {
    timeout_seconds                = var.producer_timeout
    available_memory               = var.producer_memory
    max_instance_count             = var.webhook_max_instance_count
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.producer[0].email
    environment_variables          = local.producer_environment

    secret_volumes {
      mount_path = local.ssh_key_mount_path
      project_id = var.project_id
      secret     = google_secret_manager_secret.ssh_key[0].secret_id

      versions {
        version = var.ssh_key_secret_version
        path    = local.ssh_key_file_name
      }
    }

    # The handler answers 500 without this secret and 401 to any request it did not sign: no unsigned path.
    secret_environment_variables {
      key        = "ENCORD_WEBHOOK_SECRET"
      project_id = var.project_id
      secret     = google_secret_manager_secret.webhook[0].secret_id
      version    = var.webhook_secret_version
    }
  }

  depends_on = [
    google_secret_manager_secret_iam_member.producer_ssh_key,
    google_secret_manager_secret_iam_member.producer_webhook,
  ]
}

# Encord cannot mint Google identity tokens: the webhook is public and verified by its HMAC signature.
resource "google_cloud_run_v2_service_iam_member" "webhook_public" {
  count = local.create_webhook ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.webhook[0].service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}
