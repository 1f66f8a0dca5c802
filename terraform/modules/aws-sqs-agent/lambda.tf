################################################################################
# Consumer: SQS event source mapping with partial batch responses
################################################################################

resource "aws_lambda_function" "consumer" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by the SQS event source mapping; failed messages redrive to the SQS DLQ, an async-invoke DLQ would never receive anything
  #checkov:skip=CKV_AWS_117:Must reach the Encord API on the internet; a VPC would only add a NAT gateway (attach one via environment if required)
  #checkov:skip=CKV_AWS_115:Concurrency is capped by the event source mapping's maximum_concurrency, which AWS recommends over reserved concurrency for SQS (no throttling loops)
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile owned by the caller's release pipeline
  #checkov:skip=CKV_AWS_173:Environment variables hold no secrets (ARNs, URLs, names); secrets live in Secrets Manager
  #checkov:skip=CKV_AWS_50:X-Ray tracing is opt-in through var.tracing_mode (it needs a Resource "*" permission and costs per trace)
  count = local.create ? 1 : 0

  function_name = local.consumer_name
  description   = "Runs the ${var.runner_target} task agent on batches from ${aws_sqs_queue.this[0].name}."
  role          = aws_iam_role.consumer[0].arn
  # package.tf: the zip's S3 object version, or the container image (whose CMD is set below).
  package_type      = local.package_type
  s3_bucket         = local.package_s3_bucket
  s3_key            = local.package_s3_key
  s3_object_version = try(aws_s3_object.package[0].version_id, null)
  image_uri         = var.image_uri
  source_code_hash  = local.source_code_hash
  handler           = local.use_image ? null : var.consumer_handler
  runtime           = local.use_image ? null : var.runtime
  architectures     = [var.architecture]
  timeout           = var.consumer_timeout
  memory_size       = var.consumer_memory_size
  # snapstart.tf: each code or configuration change publishes a version, snapshotted after its init.
  publish = var.snap_start

  dynamic "snap_start" {
    for_each = var.snap_start ? ["PublishedVersions"] : []
    content {
      apply_on = snap_start.value
    }
  }

  # -1: unreserved. Reserving takes from the account's pool; the ESM's maximum_concurrency caps SQS polling.
  reserved_concurrent_executions = var.consumer_reserved_concurrency

  ephemeral_storage {
    size = var.consumer_ephemeral_storage_size
  }

  dynamic "image_config" {
    for_each = local.use_image ? [var.consumer_handler] : []
    content {
      command = [image_config.value]
    }
  }

  environment {
    variables = merge(local.common_environment, {
      RUNNER_DLQ_URL               = aws_sqs_queue.dlq[0].url
      POWERTOOLS_SERVICE_NAME      = local.consumer_name
      POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
    })
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.consumer[0].name
  }

  dynamic "tracing_config" {
    for_each = var.tracing_mode == null ? [] : [var.tracing_mode]
    content {
      mode = tracing_config.value
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.consumer]
}

resource "aws_lambda_event_source_mapping" "consumer" {
  count = local.create ? 1 : 0

  event_source_arn = aws_sqs_queue.this[0].arn
  function_name    = local.consumer_invoke_arn # the SnapStart alias when on (snapstart.tf)
  enabled          = var.event_source_mapping_enabled
  batch_size       = var.batch_size
  # FIFO queues do not support a batching window.
  maximum_batching_window_in_seconds = var.fifo_queue ? null : var.maximum_batching_window_in_seconds
  # Without this the handler's batchItemFailures are ignored and one bad message retries the whole batch.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.maximum_concurrency
  }

  lifecycle {
    precondition {
      condition     = !var.fifo_queue || var.batch_size <= 10
      error_message = "FIFO queues allow a batch_size of at most 10."
    }
    precondition {
      condition     = var.fifo_queue || var.batch_size <= 10 || var.maximum_batching_window_in_seconds >= 1
      error_message = "A batch_size above 10 needs maximum_batching_window_in_seconds of at least 1."
    }
  }

  tags = var.tags
}

################################################################################
# Producer: scheduled, optionally behind a function URL for Encord's webhook
################################################################################

resource "aws_lambda_function" "producer" {
  #checkov:skip=CKV_AWS_116:Invoked by a schedule; a failed run is harmless because the next run lists the same waiting tasks
  #checkov:skip=CKV_AWS_117:Must reach the Encord API on the internet; a VPC would only add a NAT gateway
  #checkov:skip=CKV_AWS_115:Overlapping runs are harmless: a ledger lock with a lease lets one run per project and stage list, and queued marks stop double publishing
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile owned by the caller's release pipeline
  #checkov:skip=CKV_AWS_173:Environment variables hold no secrets (ARNs, URLs, names); secrets live in Secrets Manager
  #checkov:skip=CKV_AWS_50:X-Ray tracing is opt-in through var.tracing_mode (it needs a Resource "*" permission and costs per trace)
  count = local.create_producer ? 1 : 0

  function_name = local.producer_name
  description   = "Enqueues the waiting tasks of ${var.runner_target} onto ${aws_sqs_queue.this[0].name}."
  role          = aws_iam_role.producer[0].arn
  # package.tf: the zip's S3 object version, or the container image (whose CMD is set below).
  package_type      = local.package_type
  s3_bucket         = local.package_s3_bucket
  s3_key            = local.package_s3_key
  s3_object_version = try(aws_s3_object.package[0].version_id, null)
  image_uri         = var.image_uri
  source_code_hash  = local.source_code_hash
  handler           = local.use_image ? null : var.producer_handler
  runtime           = local.use_image ? null : var.runtime
  architectures     = [var.architecture]
  timeout           = var.producer_timeout
  memory_size       = var.producer_memory_size

  dynamic "image_config" {
    for_each = local.use_image ? [var.producer_handler] : []
    content {
      command = [image_config.value]
    }
  }

  environment {
    variables = merge(local.common_environment, {
      RUNNER_QUEUE_URL          = aws_sqs_queue.this[0].url
      RUNNER_PROJECT_ALLOWLIST  = join(",", var.project_allowlist)
      ENCORD_WEBHOOK_SECRET_ARN = try(aws_secretsmanager_secret.webhook[0].arn, "")
      POWERTOOLS_SERVICE_NAME   = local.producer_name
    })
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.producer[0].name
  }

  dynamic "tracing_config" {
    for_each = var.tracing_mode == null ? [] : [var.tracing_mode]
    content {
      mode = tracing_config.value
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.producer]
}

resource "aws_cloudwatch_event_rule" "producer" {
  count = local.create_producer && var.producer_schedule_expression != null ? 1 : 0

  name                = "${local.producer_name}-schedule"
  description         = "Runs ${local.producer_name} to enqueue waiting Encord tasks."
  schedule_expression = var.producer_schedule_expression

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "producer" {
  count = local.create_producer && var.producer_schedule_expression != null ? 1 : 0

  rule = aws_cloudwatch_event_rule.producer[0].name
  arn  = aws_lambda_function.producer[0].arn
}

resource "aws_lambda_permission" "producer_schedule" {
  count = local.create_producer && var.producer_schedule_expression != null ? 1 : 0

  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.producer[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.producer[0].arn
}
