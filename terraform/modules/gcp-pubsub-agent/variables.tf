################################################################################
# General
################################################################################

variable "create" {
  description = "Whether to create any resource."
  type        = bool
  default     = true
}

variable "project_id" {
  description = "Google Cloud project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the functions, the scheduler job and the source bucket."
  type        = string
}

variable "name" {
  description = "Prefix of every resource name (topics, subscriptions, functions, service accounts, secrets)."
  type        = string

  validation {
    # Service account ids allow 6-30 characters; the longest we derive is "<name>-sched".
    condition     = can(regex("^[a-z][a-z0-9-]{3,23}$", var.name))
    error_message = "name must be 4-24 characters: lowercase letters, digits and '-', starting with a letter."
  }
}

variable "labels" {
  description = "Labels added to every resource that supports them."
  type        = map(string)
  default     = {}
}

################################################################################
# Source and runtime
################################################################################

variable "source_zip_path" {
  description = "Path to the source zip made by `runner-core build gcp` (source.zip)."
  type        = string
}

variable "source_zip_sha256" {
  description = "Hex SHA-256 of the zip (the build prints it); null computes it from source_zip_path. Names the bucket object, so a change redeploys."
  type        = string
  default     = null
}

variable "source_bucket_name" {
  description = "Existing bucket for the source zip; null creates a private bucket."
  type        = string
  default     = null
}

variable "runtime" {
  description = "Cloud Functions runtime."
  type        = string
  default     = "python312"
}

variable "runner_target" {
  description = "Your runner as package.module:attr (RUNNER_TARGET)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$", var.runner_target))
    error_message = "runner_target must look like package.module:attr."
  }
}

variable "encord_domain" {
  description = "Encord API domain (ENCORD_DOMAIN)."
  type        = string
  default     = "https://api.encord.com"
}

variable "environment_variables" {
  description = "Extra environment variables for both functions. Never put secrets here."
  type        = map(string)
  default     = {}

  # A value here is plain text in the function's configuration and in Terraform state: secrets go to the secret
  # manager this module creates (the SSH key and the webhook secret have their own secrets).
  validation {
    condition = alltrue([
      for name in keys(var.environment_variables) :
      !contains(["ENCORD_SSH_KEY", "ENCORD_WEBHOOK_SECRET"], upper(name)) &&
      length(regexall("(?i)(SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIALS)$", name)) == 0
    ])
    error_message = "environment_variables must not hold secrets (ENCORD_SSH_KEY, ENCORD_WEBHOOK_SECRET, *_SECRET, *_PASSWORD, *_TOKEN, *_PRIVATE_KEY, *_API_KEY, *_CREDENTIALS): put them in the module's secrets."
  }
}

variable "ssh_key_secret_version" {
  description = "Secret Manager version of the SSH key mounted as a file; a volume re-reads it, so 'latest' follows rotations."
  type        = string
  default     = "latest"
}

variable "kms_key_name" {
  description = "Cloud KMS key for the topics; null uses Google-managed encryption."
  type        = string
  default     = null
}

################################################################################
# Topic, push subscription, dead letters
################################################################################

variable "max_delivery_attempts" {
  description = "Deliveries before Pub/Sub forwards a message to the dead-letter topic (5-100); also RUNNER_MAX_ATTEMPTS."
  type        = number
  default     = 5

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100 (Pub/Sub's limits)."
  }
}

variable "minimum_backoff" {
  description = "Retry policy: minimum delay before redelivering a nacked message (0s-600s)."
  type        = string
  default     = "10s"
}

variable "maximum_backoff" {
  description = "Retry policy: maximum delay before redelivering a nacked message (0s-600s)."
  type        = string
  default     = "600s"
}

variable "message_retention_duration" {
  description = "How long the subscriptions keep unacknowledged messages (default 7 days, the maximum)."
  type        = string
  default     = "604800s"
}

variable "push_endpoint" {
  description = "URL the subscription pushes to; null uses the consumer function's URL."
  type        = string
  default     = null
}

variable "grant_token_creator_to_pubsub_agent" {
  description = "Grant the Pub/Sub service agent Token Creator on the invoker account (only for projects that enabled Pub/Sub before 2021-04-08)."
  type        = bool
  default     = false
}

################################################################################
# Consumer
################################################################################

variable "consumer_entry_point" {
  description = "Entry point of the consumer in main.py. consume_http reads the raw push body incl. deliveryAttempt; consume takes a CloudEvent (functions-framework drops deliveryAttempt)."
  type        = string
  default     = "consume_http"
}

variable "consumer_timeout" {
  description = "Consumer timeout in seconds; also the subscription's ack deadline (push: the request timeout), so at most 600."
  type        = number
  default     = 300

  validation {
    condition     = var.consumer_timeout >= 10 && var.consumer_timeout <= 600
    error_message = "consumer_timeout must be between 10 and 600 seconds (Pub/Sub's maximum ack deadline)."
  }
}

variable "consumer_memory" {
  description = "Consumer memory (e.g. 1Gi)."
  type        = string
  default     = "1Gi"
}

variable "consumer_cpu" {
  description = "vCPUs of a consumer instance (e.g. \"1\", \"2\", \"4\"); null lets Cloud Run derive it from consumer_memory."
  type        = string
  default     = null
}

variable "consumer_max_instance_request_concurrency" {
  description = "Pushed messages one consumer instance handles at once (more than 1 needs at least 1 vCPU); instance-scoped dependencies such as a model are shared by them."
  type        = number
  default     = 1

  validation {
    condition     = var.consumer_max_instance_request_concurrency >= 1 && var.consumer_max_instance_request_concurrency <= 1000
    error_message = "consumer_max_instance_request_concurrency must be between 1 and 1000."
  }
}

variable "consumer_max_instance_count" {
  description = "Most consumer instances: the concurrency cap protecting the Encord API."
  type        = number
  default     = 10
}

variable "consumer_min_instance_count" {
  description = "Warm consumer instances (trades cost for fewer cold starts)."
  type        = number
  default     = 0
}

variable "consumer_ingress_settings" {
  description = "Consumer ingress; Pub/Sub push from the same project counts as internal traffic."
  type        = string
  default     = "ALLOW_INTERNAL_ONLY"
}

################################################################################
# Producer
################################################################################

variable "create_producer" {
  description = "Create the producer function (lists waiting tasks and publishes them)."
  type        = bool
  default     = true
}

variable "producer_entry_point" {
  description = "Entry point of the producer in main.py."
  type        = string
  default     = "dispatch"
}

variable "producer_timeout" {
  description = "Producer timeout in seconds."
  type        = number
  default     = 60
}

variable "producer_memory" {
  description = "Producer memory."
  type        = string
  default     = "512Mi"
}

variable "producer_schedule" {
  description = "Cloud Scheduler cron for the producer; null disables the schedule."
  type        = string
  default     = "*/5 * * * *"
}

variable "scheduler_time_zone" {
  description = "Time zone of producer_schedule."
  type        = string
  default     = "Etc/UTC"
}

variable "create_webhook" {
  description = "Create a public webhook function for Encord (same dispatch code; every request must carry a valid HMAC signature)."
  type        = bool
  default     = false
}

variable "webhook_secret_version" {
  description = "Secret Manager version of the webhook secret. It is an environment variable, read at instance start: pin a number."
  type        = string
  default     = "1"
}

variable "project_allowlist" {
  description = "Project hashes the webhook may trigger (RUNNER_PROJECT_ALLOWLIST)."
  type        = list(string)
  default     = []
}

################################################################################
# Alerting
################################################################################

variable "create_dead_letter_alert" {
  description = "Create a Cloud Monitoring alert when the dead-letter subscription holds any message."
  type        = bool
  default     = true
}

variable "notification_channels" {
  description = "Cloud Monitoring notification channel ids for the dead-letter alert."
  type        = list(string)
  default     = []
}

variable "webhook_entry_point" {
  description = "Entry point of the webhook function (signed requests only; never the schedule path)."
  type        = string
  default     = "webhook"
}

variable "webhook_max_instance_count" {
  description = "Most instances of the public webhook function: bounds what a flood of requests can cost."
  type        = number
  default     = 3

  validation {
    condition     = var.webhook_max_instance_count >= 1 && var.webhook_max_instance_count <= 100
    error_message = "webhook_max_instance_count must be between 1 and 100."
  }
}
