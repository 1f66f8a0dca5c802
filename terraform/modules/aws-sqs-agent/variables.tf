################################################################################
# General
################################################################################

variable "create" {
  description = "Whether to create any resource (terraform-aws-modules convention: lets callers toggle the module)."
  type        = bool
  default     = true
}

variable "name" {
  description = "Prefix for every resource name (queues, functions, roles, secrets, log groups)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-_]{1,40}$", var.name))
    error_message = "name must be 1-40 characters of letters, digits, '-' or '_' (the longest derived name must fit SQS's 80)."
  }
}

variable "tags" {
  description = "Tags added to every resource that supports them."
  type        = map(string)
  default     = {}
}

################################################################################
# Package and runtime
################################################################################

variable "package_path" {
  description = "Path to the Lambda zip made by `runner-core build aws` (lambda.zip); uploaded to S3. Null with image_uri."
  type        = string
  default     = null
}

variable "package_source_code_hash" {
  description = "Base64 SHA-256 of the zip; null computes it from package_path. Changes trigger a code update."
  type        = string
  default     = null
}

variable "package_s3_bucket" {
  description = "An existing (versioned) bucket to upload the zip to; null creates a private, versioned bucket."
  type        = string
  default     = null
}

variable "package_s3_key_prefix" {
  description = "Prefix of the zip's S3 key (the key is <prefix><name>/lambda.zip)."
  type        = string
  default     = ""
}

variable "package_bucket_kms_key_id" {
  description = "KMS key ARN encrypting the created package bucket; null uses SSE-S3 (AES256)."
  type        = string
  default     = null
}

variable "package_bucket_force_destroy" {
  description = "Let `terraform destroy` delete the created package bucket with its old builds in it."
  type        = bool
  default     = false
}

variable "package_noncurrent_version_days" {
  description = "Days an older build stays in the created bucket (for rolling back) before it expires."
  type        = number
  default     = 30
}

variable "image_uri" {
  description = "ECR image URI (from `runner-core build aws --image`) instead of a zip: both functions run it with their handler as CMD."
  type        = string
  default     = null

  validation {
    condition     = (var.image_uri == null) != (var.package_path == null)
    error_message = "Set exactly one of package_path (a zip) and image_uri (a container image)."
  }
}

variable "runner_target" {
  description = "Your runner as package.module:attr, given to the functions as RUNNER_TARGET (printed by the build)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$", var.runner_target))
    error_message = "runner_target must look like package.module:attr."
  }
}

variable "runtime" {
  description = "Lambda runtime; must match the Python version the zip was built for (`--python-version`)."
  type        = string
  default     = "python3.12"
}

variable "architecture" {
  description = "Lambda architecture; must match the zip's wheels (`--architecture`): x86_64 or arm64."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "encord_domain" {
  description = "Encord API domain (ENCORD_DOMAIN)."
  type        = string
  default     = "https://api.encord.com"
}

variable "environment_variables" {
  description = "Extra environment variables for both functions (e.g. RUNNER_MAX_CONCURRENCY). Never put secrets here."
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

variable "tracing_mode" {
  description = "X-Ray tracing mode for both functions (Active or PassThrough); null leaves tracing off."
  type        = string
  default     = null

  validation {
    condition     = var.tracing_mode == null || contains(["Active", "PassThrough"], coalesce(var.tracing_mode, "Active"))
    error_message = "tracing_mode must be Active, PassThrough or null."
  }
}

variable "cloudwatch_logs_retention_in_days" {
  description = "Retention of the functions' log groups, in days."
  type        = number
  default     = 30
}

variable "cloudwatch_logs_kms_key_id" {
  description = "KMS key ARN encrypting the log groups; null uses CloudWatch's default encryption."
  type        = string
  default     = null
}

################################################################################
# Queue and dead-letter queue
################################################################################

variable "fifo_queue" {
  description = "Use FIFO queues (order per MessageGroupId; batch size at most 10, no batching window)."
  type        = bool
  default     = false
}

variable "content_based_deduplication" {
  description = "FIFO only: deduplicate on a hash of the body within SQS's 5 minute window."
  type        = bool
  default     = false
}

variable "visibility_timeout_seconds" {
  description = "Queue visibility timeout; null means 6x consumer_timeout (AWS guidance). Must be at least 6x consumer_timeout."
  type        = number
  default     = null

  validation {
    condition     = var.visibility_timeout_seconds == null || try(var.visibility_timeout_seconds >= 6 * var.consumer_timeout, false)
    error_message = "visibility_timeout_seconds must be at least 6x consumer_timeout, or a message still being processed is delivered again."
  }

  validation {
    condition     = var.visibility_timeout_seconds == null || try(var.visibility_timeout_seconds <= 43200, false)
    error_message = "visibility_timeout_seconds can be at most 43200 (12 hours)."
  }
}

variable "message_retention_seconds" {
  description = "How long the work queue keeps a message (default 4 days)."
  type        = number
  default     = 345600
}

variable "dlq_message_retention_seconds" {
  description = "How long the dead-letter queue keeps a message (default and maximum: 14 days, time to investigate)."
  type        = number
  default     = 1209600
}

variable "max_receive_count" {
  description = "Deliveries before SQS moves a message to the DLQ (redrive maxReceiveCount); also RUNNER_MAX_ATTEMPTS."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number between 1 and 1000."
  }
}

variable "create_dlq_redrive_allow_policy" {
  description = "Allow only the work queue to redrive into the DLQ (redrive allow policy). Turn off only for emulators that do not store it (moto)."
  type        = bool
  default     = true
}

variable "kms_master_key_id" {
  description = "KMS key for the queues' encryption; null uses SQS-managed SSE (encrypted either way)."
  type        = string
  default     = null
}

################################################################################
# Consumer (SQS -> Lambda)
################################################################################

variable "consumer_handler" {
  description = "Handler of the consumer function."
  type        = string
  default     = "functions.aws.consume"
}

variable "consumer_timeout" {
  description = "Consumer timeout in seconds: about 2x the p99 time of one batch, at most 900."
  type        = number
  default     = 120

  validation {
    condition     = var.consumer_timeout >= 1 && var.consumer_timeout <= 900
    error_message = "consumer_timeout must be between 1 and 900 seconds."
  }
}

variable "consumer_memory_size" {
  description = "Consumer memory in MB (CPU scales with it; video decoding likes more)."
  type        = number
  default     = 1024
}

variable "consumer_ephemeral_storage_size" {
  description = "The consumer's /tmp in MB (512-10240): downloaded media and model files live there."
  type        = number
  default     = 512

  validation {
    condition     = var.consumer_ephemeral_storage_size >= 512 && var.consumer_ephemeral_storage_size <= 10240
    error_message = "consumer_ephemeral_storage_size must be between 512 and 10240 MB."
  }
}

variable "consumer_reserved_concurrency" {
  description = "Reserved concurrent executions of the consumer; -1 reserves none (maximum_concurrency still caps SQS)."
  type        = number
  default     = -1
}

variable "snap_start" {
  description = "Turn on SnapStart for the consumer (a zip on python3.12+): publish versions, snapshot each after init, and invoke it through an alias."
  type        = bool
  default     = false
}

variable "snap_start_alias" {
  description = "Name of the alias the queue invokes when snap_start is on (roll back by pointing it at an older version)."
  type        = string
  default     = "live"
}

variable "batch_size" {
  description = "Messages per invocation (event source mapping). At most 10 for FIFO; above 10 needs a batching window."
  type        = number
  default     = 10

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "batch_size must be between 1 and 10000."
  }
}

variable "maximum_batching_window_in_seconds" {
  description = "Seconds the event source mapping may wait to fill a batch (0-300; ignored for FIFO)."
  type        = number
  default     = 0

  validation {
    condition     = var.maximum_batching_window_in_seconds >= 0 && var.maximum_batching_window_in_seconds <= 300
    error_message = "maximum_batching_window_in_seconds must be between 0 and 300."
  }
}

variable "maximum_concurrency" {
  description = "Concurrent consumer invocations (ESM scaling_config, 2-1000): protects the Encord API rate limit without throttling loops."
  type        = number
  default     = 10

  validation {
    condition     = var.maximum_concurrency >= 2 && var.maximum_concurrency <= 1000
    error_message = "maximum_concurrency must be between 2 and 1000."
  }
}

variable "event_source_mapping_enabled" {
  description = "Whether the consumer polls the queue (false pauses processing; messages wait in the queue)."
  type        = bool
  default     = true
}

################################################################################
# Producer (schedule and webhook -> queue)
################################################################################

variable "create_producer" {
  description = "Whether to create the producer function that lists waiting tasks and enqueues them."
  type        = bool
  default     = true
}

variable "producer_handler" {
  description = "Handler of the producer function."
  type        = string
  default     = "functions.aws.dispatch"
}

variable "producer_timeout" {
  description = "Producer timeout in seconds."
  type        = number
  default     = 60
}

variable "producer_memory_size" {
  description = "Producer memory in MB."
  type        = number
  default     = 512
}

variable "producer_schedule_expression" {
  description = "EventBridge schedule that runs the producer (rate() or cron()); null disables the schedule."
  type        = string
  default     = "rate(5 minutes)"
}

variable "create_webhook_url" {
  description = "Create a function URL on the producer for Encord's webhook (HMAC-verified with the webhook secret)."
  type        = bool
  default     = false
}

variable "project_allowlist" {
  description = "Project hashes the webhook may trigger (RUNNER_PROJECT_ALLOWLIST); empty allows only the runner's projects."
  type        = list(string)
  default     = []
}

################################################################################
# Secrets and alarms
################################################################################

variable "secret_recovery_window_in_days" {
  description = "Days a deleted secret can be restored (0 deletes at once)."
  type        = number
  default     = 7
}

variable "secrets_kms_key_id" {
  description = "KMS key ARN for the Secrets Manager secrets; null uses the AWS-managed key."
  type        = string
  default     = null
}

variable "create_dlq_alarm" {
  description = "Create a CloudWatch alarm when the dead-letter queue holds any message."
  type        = bool
  default     = true
}

variable "alarm_actions" {
  description = "More ARNs (e.g. SNS topics) every alarm notifies, besides the alarm topic."
  type        = list(string)
  default     = []
}

variable "ok_actions" {
  description = "More ARNs notified when an alarm returns to OK, besides the alarm topic."
  type        = list(string)
  default     = []
}

variable "webhook_handler" {
  description = "Handler of the webhook function (signed requests only)."
  type        = string
  default     = "functions.aws.webhook"
}

variable "webhook_reserved_concurrency" {
  description = "Reserved concurrency of the webhook function: the most instances a flood of requests to its public URL can take from the account."
  type        = number
  default     = 5

  validation {
    condition     = var.webhook_reserved_concurrency >= 1
    error_message = "webhook_reserved_concurrency must be at least 1 (0 would disable the webhook)."
  }
}
