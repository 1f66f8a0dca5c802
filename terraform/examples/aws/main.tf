# A complete deployment: SQS -> Lambda consumer, scheduled producer, secrets, DLQ alarm to email.
#
#   runner-core build aws --target my_agent.agent:runner --out build/aws
#   terraform -chdir=terraform/examples/aws apply -var runner_target=my_agent.agent:runner

provider "aws" {
  region = var.region

  # Pointed at a local emulator (moto_server) by the opt-in apply test; unset in real use.
  skip_credentials_validation = var.aws_endpoint_url != null
  skip_requesting_account_id  = var.aws_endpoint_url != null
  skip_metadata_api_check     = var.aws_endpoint_url != null
  skip_region_validation      = var.aws_endpoint_url != null
  s3_use_path_style           = var.aws_endpoint_url != null

  dynamic "endpoints" {
    for_each = var.aws_endpoint_url == null ? [] : [var.aws_endpoint_url]
    content {
      cloudwatch     = endpoints.value
      cloudwatchlogs = endpoints.value
      dynamodb       = endpoints.value
      events         = endpoints.value
      iam            = endpoints.value
      lambda         = endpoints.value
      s3             = endpoints.value
      secretsmanager = endpoints.value
      sns            = endpoints.value
      sqs            = endpoints.value
      sts            = endpoints.value
    }
  }

  default_tags {
    tags = var.tags
  }
}

resource "aws_sns_topic" "alarms" {
  count = var.alarm_email == null ? 0 : 1

  name              = "${var.name}-alarms"
  kms_master_key_id = "alias/aws/sns"
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

module "agent" {
  source = "../../modules/aws-sqs-agent"

  name          = var.name
  runner_target = var.runner_target
  # A zip goes through a versioned S3 bucket the module creates; an image (`runner-core build aws --image`,
  # pushed to ECR) replaces it.
  package_path                 = var.image_uri == null ? abspath(var.package_path) : null
  image_uri                    = var.image_uri
  package_bucket_force_destroy = var.package_bucket_force_destroy

  # Resources: size them to the agent (README, "Sizing").
  architecture                    = var.architecture
  consumer_memory_size            = var.consumer_memory_size
  consumer_timeout                = var.consumer_timeout
  consumer_ephemeral_storage_size = var.consumer_ephemeral_storage_size
  consumer_reserved_concurrency   = var.consumer_reserved_concurrency
  maximum_concurrency             = var.maximum_concurrency
  # Python 3.12+: the consumer starts from a snapshot taken after its init (runner, model) instead of a cold init.
  snap_start = var.snap_start

  batch_size        = 5
  max_receive_count = 5

  # moto does not store redrive allow policies (the provider would wait for it forever).
  create_dlq_redrive_allow_policy = var.aws_endpoint_url == null

  create_webhook_url = var.create_webhook_url
  alarm_actions      = aws_sns_topic.alarms[*].arn
  ok_actions         = aws_sns_topic.alarms[*].arn
}
