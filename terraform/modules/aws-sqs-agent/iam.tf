# One role per function, each statement scoped to the one resource it needs (least privilege).

data "aws_region" "current" {}

locals {
  lambda_assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "lambda.amazonaws.com" }
    }]
  })

  kms_key_arns = compact([var.kms_master_key_id, var.secrets_kms_key_id])

  # X-Ray has no resource-level permissions: "*" is the only valid resource, hence opt-in.
  tracing_statements = var.tracing_mode == null ? [] : [{
    Sid      = "XRayWrite"
    Effect   = "Allow"
    Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    Resource = "*"
  }]

  # The keys may only be used through SQS and Secrets Manager on the functions' behalf, never called directly.
  kms_statements = length(local.kms_key_arns) == 0 ? [] : [{
    Sid      = "DecryptQueueAndSecrets"
    Effect   = "Allow"
    Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
    Resource = local.kms_key_arns
    Condition = {
      StringEquals = {
        "kms:ViaService" = [
          "sqs.${data.aws_region.current.name}.amazonaws.com",
          "secretsmanager.${data.aws_region.current.name}.amazonaws.com",
        ]
      }
    }
  }]

  consumer_policy_statements = local.create ? concat([
    {
      Sid      = "Logs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${aws_cloudwatch_log_group.consumer[0].arn}:*"]
    },
    {
      Sid      = "ConsumeWorkQueue"
      Effect   = "Allow"
      Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
      Resource = [aws_sqs_queue.this[0].arn]
    },
    {
      # Permanent failures go straight to the DLQ instead of burning the remaining receives.
      Sid      = "SendPermanentFailuresToDlq"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = [aws_sqs_queue.dlq[0].arn]
    },
    {
      Sid      = "ReadEncordSshKey"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [aws_secretsmanager_secret.ssh_key[0].arn]
    },
  ], local.tracing_statements) : []

  producer_policy_statements = local.create_producer ? concat([
    {
      Sid      = "Logs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${aws_cloudwatch_log_group.producer[0].arn}:*"]
    },
    {
      Sid      = "EnqueueTasks"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = [aws_sqs_queue.this[0].arn]
    },
    {
      Sid      = "ReadSecrets"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = concat([aws_secretsmanager_secret.ssh_key[0].arn], aws_secretsmanager_secret.webhook[*].arn)
    },
  ], local.tracing_statements) : []
}

resource "aws_iam_role" "consumer" {
  count = local.create ? 1 : 0

  name               = "${local.consumer_name}-role"
  assume_role_policy = local.lambda_assume_role_policy

  tags = var.tags
}

resource "aws_iam_role_policy" "consumer" {
  count = local.create ? 1 : 0

  name   = "${local.consumer_name}-policy"
  role   = aws_iam_role.consumer[0].id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.consumer_policy_statements })
}

resource "aws_iam_role" "producer" {
  count = local.create_producer ? 1 : 0

  name               = "${local.producer_name}-role"
  assume_role_policy = local.lambda_assume_role_policy

  tags = var.tags
}

resource "aws_iam_role_policy" "producer" {
  count = local.create_producer ? 1 : 0

  name   = "${local.producer_name}-policy"
  role   = aws_iam_role.producer[0].id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.producer_policy_statements })
}
