# KMS grants in their own policies: the keys (var.kms_master_key_id, var.secrets_kms_key_id) may be used only
# through SQS and Secrets Manager on the functions' behalf (kms:ViaService), never called directly.

resource "aws_iam_role_policy" "consumer_kms" {
  count = local.create && length(local.kms_key_arns) > 0 ? 1 : 0

  name   = "${local.consumer_name}-kms"
  role   = aws_iam_role.consumer[0].id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.kms_statements })
}

resource "aws_iam_role_policy" "producer_kms" {
  count = local.create_producer && length(local.kms_key_arns) > 0 ? 1 : 0

  name   = "${local.producer_name}-kms"
  role   = aws_iam_role.producer[0].id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.kms_statements })
}
