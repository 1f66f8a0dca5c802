# The task ledger (runner_core.ledger): one DynamoDB record per task episode, so an agent runs once per episode
# whatever the producer runs and SQS deliveries. Contract with functions.ledgers.dynamodb: the only key is the
# string partition key `pk`; `expires_at` (epoch seconds) is the TTL attribute, which only tidies (every read
# compares the record's own expiry with the clock).

variable "create_ledger" {
  description = "Whether to create the task ledger table and point both functions at it (RUNNER_LEDGER_TABLE). Without it a task delivered or published twice can run twice."
  type        = bool
  default     = true
}

variable "ledger_point_in_time_recovery" {
  description = "Point-in-time recovery of the ledger table (35 days of restores; costs per GB)."
  type        = bool
  default     = true
}

variable "ledger_kms_key_arn" {
  description = "Customer-managed KMS key for the ledger table; null uses the AWS-managed key (aws/dynamodb)."
  type        = string
  default     = null
}

variable "ledger_lease_margin_seconds" {
  description = "A claim lasts until the consumer's deadline plus this margin (RUNNER_LEDGER_LEASE_MARGIN_S); consumer_timeout plus it must stay below the visibility timeout, so a crashed worker's message is taken over."
  type        = number
  default     = 15

  validation {
    condition     = var.ledger_lease_margin_seconds >= 0
    error_message = "ledger_lease_margin_seconds must not be negative."
  }
}

variable "ledger_held_recheck_seconds" {
  description = "A task its agent held (no pathway) runs again after this many seconds, not on every producer run."
  type        = number
  default     = 900
}

variable "ledger_failed_window_seconds" {
  description = "A task that failed permanently is not re-published for this many seconds (a DLQ redrive still runs it)."
  type        = number
  default     = 86400
}

variable "ledger_fail_closed" {
  description = "When the ledger table cannot be reached: false runs and publishes anyway (logged loudly), true retries later."
  type        = bool
  default     = false
}

variable "dispatch_max_queue_depth" {
  description = "When set, the producer reads the queue's visible depth first and lists nothing while it is above this watermark."
  type        = number
  default     = null
}

locals {
  create_ledger = local.create && var.create_ledger
  lease_seconds = var.consumer_timeout + var.ledger_lease_margin_seconds

  ledger_environment = merge(
    local.create_ledger ? {
      RUNNER_LEDGER_TABLE           = aws_dynamodb_table.ledger[0].name
      RUNNER_LEDGER_LEASE_MARGIN_S  = tostring(var.ledger_lease_margin_seconds)
      RUNNER_LEDGER_HELD_RECHECK_S  = tostring(var.ledger_held_recheck_seconds)
      RUNNER_LEDGER_FAILED_WINDOW_S = tostring(var.ledger_failed_window_seconds)
      RUNNER_LEDGER_FAIL_CLOSED     = tostring(var.ledger_fail_closed)
    } : {},
    var.dispatch_max_queue_depth == null ? {} : {
      RUNNER_DISPATCH_MAX_QUEUE_DEPTH = tostring(var.dispatch_max_queue_depth)
    },
  )

  ledger_kms_statements = var.ledger_kms_key_arn == null ? [] : [{
    Sid      = "LedgerKey"
    Effect   = "Allow"
    Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
    Resource = [var.ledger_kms_key_arn]
  }]
}

resource "aws_dynamodb_table" "ledger" {
  #checkov:skip=CKV2_AWS_16:On-demand (PAY_PER_REQUEST) capacity scales by itself; auto scaling applies to provisioned tables only
  count = local.create_ledger ? 1 : 0

  name         = "${var.name}-ledger"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.ledger_kms_key_arn
  }

  point_in_time_recovery {
    enabled = var.ledger_point_in_time_recovery
  }

  lifecycle {
    precondition {
      # SQS redelivers a message after its visibility timeout: by then the claim of a crashed or timed-out
      # consumer must have run out, or the redelivery is retried instead of taking the task over.
      condition     = local.lease_seconds < local.visibility_timeout_seconds
      error_message = "consumer_timeout + ledger_lease_margin_seconds must be shorter than the queue's visibility timeout."
    }
  }

  tags = var.tags
}

resource "aws_iam_role_policy" "consumer_ledger" {
  count = local.create_ledger ? 1 : 0

  name = "${local.consumer_name}-ledger"
  role = aws_iam_role.consumer[0].id
  # Claims and settles are conditional PutItem requests on this one table.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([{
      Sid      = "ClaimAndSettleTasks"
      Effect   = "Allow"
      Action   = ["dynamodb:PutItem"]
      Resource = [aws_dynamodb_table.ledger[0].arn]
    }], local.ledger_kms_statements)
  })
}

resource "aws_iam_role_policy" "producer_ledger" {
  count = local.create_producer && (local.create_ledger || var.dispatch_max_queue_depth != null) ? 1 : 0

  name = "${local.producer_name}-ledger"
  role = aws_iam_role.producer[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      local.create_ledger ? [{
        # Batched lookups, conditional queued marks, the per-stage lock and cursor, undoing a failed publish.
        Sid      = "LookUpAndMarkTasks"
        Effect   = "Allow"
        Action   = ["dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
        Resource = [aws_dynamodb_table.ledger[0].arn]
      }] : [],
      var.dispatch_max_queue_depth == null ? [] : [{
        Sid      = "ReadQueueDepth"
        Effect   = "Allow"
        Action   = ["sqs:GetQueueAttributes"]
        Resource = [aws_sqs_queue.this[0].arn]
      }],
      local.create_ledger ? local.ledger_kms_statements : [],
    )
  })
}

output "ledger_table_name" {
  description = "Name of the task ledger table (RUNNER_LEDGER_TABLE), or null without a ledger."
  value       = try(aws_dynamodb_table.ledger[0].name, null)
}

output "ledger_table_arn" {
  description = "ARN of the task ledger table, or null without a ledger."
  value       = try(aws_dynamodb_table.ledger[0].arn, null)
}
