################################################################################
# Webhook: its own function behind the public function URL. Its handler takes signed requests only (never the
# schedule path), checks the signature before it reads the SSH key or imports user code, and its reserved
# concurrency caps what a flood of unsigned requests can take from the account's consumers.
################################################################################

resource "aws_lambda_function" "webhook" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously through the function URL; Encord sees the error and notifies again
  #checkov:skip=CKV_AWS_117:Must reach the Encord API on the internet; a VPC would only add a NAT gateway
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile owned by the caller's release pipeline
  #checkov:skip=CKV_AWS_173:Environment variables hold no secrets (ARNs, URLs, names); secrets live in Secrets Manager
  #checkov:skip=CKV_AWS_50:X-Ray tracing is opt-in through var.tracing_mode (it needs a Resource "*" permission and costs per trace)
  count = local.create_webhook ? 1 : 0

  function_name = "${local.producer_name}-webhook"
  description   = "Encord webhook for ${var.runner_target}: verifies the signature, then enqueues onto ${aws_sqs_queue.this[0].name}."
  role          = aws_iam_role.producer[0].arn
  # package.tf: the zip's S3 object version, or the container image (whose CMD is set below).
  package_type                   = local.package_type
  s3_bucket                      = local.package_s3_bucket
  s3_key                         = local.package_s3_key
  s3_object_version              = try(aws_s3_object.package[0].version_id, null)
  image_uri                      = var.image_uri
  source_code_hash               = local.source_code_hash
  handler                        = local.use_image ? null : var.webhook_handler
  runtime                        = local.use_image ? null : var.runtime
  architectures                  = [var.architecture]
  timeout                        = var.producer_timeout
  memory_size                    = var.producer_memory_size
  reserved_concurrent_executions = var.webhook_reserved_concurrency

  environment {
    variables = merge(local.common_environment, {
      RUNNER_QUEUE_URL          = aws_sqs_queue.this[0].url
      RUNNER_PROJECT_ALLOWLIST  = join(",", var.project_allowlist)
      ENCORD_WEBHOOK_SECRET_ARN = aws_secretsmanager_secret.webhook[0].arn
      POWERTOOLS_SERVICE_NAME   = "${local.producer_name}-webhook"
    })
  }

  # The producer's log group and role: the webhook is the producer's other trigger, with the same permissions.
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

  dynamic "image_config" {
    for_each = local.use_image ? [var.webhook_handler] : []
    content {
      command = [image_config.value]
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.producer]
}

# Encord cannot sign AWS IAM requests: the URL is public and the handler verifies the webhook's HMAC
# signature with the secret above before doing anything.
resource "aws_lambda_function_url" "webhook" {
  count = local.create_webhook ? 1 : 0

  function_name      = aws_lambda_function.webhook[0].function_name
  authorization_type = "NONE"
}

resource "aws_lambda_permission" "webhook" {
  count = local.create_webhook ? 1 : 0

  statement_id           = "AllowPublicWebhookUrl"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.webhook[0].function_name
  principal              = "*"
  function_url_auth_type = "NONE"
}
