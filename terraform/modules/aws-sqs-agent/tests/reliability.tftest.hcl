# Plan-only checks of the reliability settings, against a mocked provider (no AWS account, no network).

mock_provider "aws" {
  # Known ARNs/URLs at plan time so the redrive policy and IAM statements can be inspected.
  override_during = plan

  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:mock"
      url = "https://sqs.eu-west-1.amazonaws.com/123456789012/mock"
    }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = {
      arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mock"
    }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/mock"
    }
  }
  mock_resource "aws_lambda_function" {
    defaults = {
      arn = "arn:aws:lambda:eu-west-1:123456789012:function:mock"
    }
  }
}

variables {
  name                     = "agent"
  package_path             = "lambda.zip"
  package_source_code_hash = "bW9jaw=="
  runner_target            = "my_agent.agent:runner"
}

run "defaults_are_reliable" {
  command = plan

  assert {
    condition     = aws_lambda_event_source_mapping.consumer[0].function_response_types == toset(["ReportBatchItemFailures"])
    error_message = "partial batch responses (ReportBatchItemFailures) must be on"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.this[0].redrive_policy).maxReceiveCount == 5
    error_message = "redrive to the DLQ with maxReceiveCount 5 by default"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.this[0].redrive_policy).deadLetterTargetArn == aws_sqs_queue.dlq[0].arn
    error_message = "the redrive policy must target the module's DLQ"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue_redrive_allow_policy.dlq[0].redrive_allow_policy).sourceQueueArns == [aws_sqs_queue.this[0].arn]
    error_message = "only the work queue may redrive into the DLQ"
  }

  assert {
    condition     = aws_sqs_queue.this[0].visibility_timeout_seconds >= 6 * aws_lambda_function.consumer[0].timeout
    error_message = "visibility timeout must be at least 6x the consumer timeout"
  }

  assert {
    condition     = aws_sqs_queue.this[0].sqs_managed_sse_enabled && aws_sqs_queue.dlq[0].sqs_managed_sse_enabled
    error_message = "both queues must be encrypted (SQS-managed SSE by default)"
  }

  assert {
    condition     = aws_lambda_event_source_mapping.consumer[0].scaling_config[0].maximum_concurrency == 10
    error_message = "the event source mapping must cap concurrency"
  }

  assert {
    condition     = aws_lambda_function.consumer[0].environment[0].variables["RUNNER_MAX_ATTEMPTS"] == "5"
    error_message = "RUNNER_MAX_ATTEMPTS must match maxReceiveCount"
  }

  assert {
    condition     = aws_lambda_function.consumer[0].environment[0].variables["ENCORD_SSH_KEY_SECRET_ARN"] == aws_secretsmanager_secret.ssh_key[0].arn
    error_message = "the consumer gets the secret's ARN, not its value"
  }

  assert {
    condition     = alltrue([for k in keys(aws_lambda_function.consumer[0].environment[0].variables) : k != "ENCORD_SSH_KEY"])
    error_message = "the SSH key must never be a plain environment variable"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.dlq[0].metric_name == "ApproximateNumberOfMessagesVisible" && aws_cloudwatch_metric_alarm.dlq[0].threshold == 0 && aws_cloudwatch_metric_alarm.dlq[0].comparison_operator == "GreaterThanThreshold"
    error_message = "an alarm must fire when the DLQ holds any message"
  }

  assert {
    condition     = aws_cloudwatch_log_group.consumer[0].retention_in_days == 30
    error_message = "log groups need a retention"
  }

  assert {
    condition = alltrue([
      for statement in jsondecode(aws_iam_role_policy.consumer[0].policy).Statement :
      alltrue([for resource in flatten([statement.Resource]) : resource != "*"])
    ])
    error_message = "every consumer IAM statement must be scoped to a resource"
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.consumer[0].policy).Statement : s.Resource if s.Sid == "ReadEncordSshKey"][0] == [aws_secretsmanager_secret.ssh_key[0].arn]
    error_message = "GetSecretValue must be scoped to the SSH key secret"
  }
}

run "visibility_follows_custom_timeout" {
  command = plan

  variables {
    consumer_timeout  = 300
    max_receive_count = 3
  }

  assert {
    condition     = aws_sqs_queue.this[0].visibility_timeout_seconds == 1800
    error_message = "the default visibility timeout is 6x the consumer timeout"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.this[0].redrive_policy).maxReceiveCount == 3
    error_message = "maxReceiveCount follows max_receive_count"
  }
}

run "visibility_below_six_times_timeout_is_rejected" {
  command = plan

  variables {
    consumer_timeout           = 120
    visibility_timeout_seconds = 300
  }

  expect_failures = [var.visibility_timeout_seconds]
}

run "fifo_batch_over_ten_is_rejected" {
  command = plan

  variables {
    fifo_queue = true
    batch_size = 20
  }

  expect_failures = [aws_lambda_event_source_mapping.consumer]
}

run "fifo_queue_has_suffix_and_no_batching_window" {
  command = plan

  variables {
    fifo_queue                         = true
    maximum_batching_window_in_seconds = 5
  }

  assert {
    condition     = endswith(aws_sqs_queue.this[0].name, ".fifo") && endswith(aws_sqs_queue.dlq[0].name, ".fifo")
    error_message = "FIFO queues (and their DLQ) need the .fifo suffix"
  }

  assert {
    condition     = aws_lambda_event_source_mapping.consumer[0].maximum_batching_window_in_seconds == null
    error_message = "FIFO event source mappings take no batching window"
  }
}

run "webhook_url_and_secret" {
  command = plan

  variables {
    create_webhook_url = true
    project_allowlist  = ["p1", "p2"]
  }

  assert {
    condition     = length(aws_lambda_function_url.webhook) == 1 && length(aws_secretsmanager_secret.webhook) == 1
    error_message = "the webhook needs a function URL and its HMAC secret"
  }

  assert {
    condition     = aws_lambda_function.producer[0].environment[0].variables["ENCORD_WEBHOOK_SECRET_ARN"] == aws_secretsmanager_secret.webhook[0].arn
    error_message = "the producer reads the webhook secret by ARN"
  }

  assert {
    condition     = aws_lambda_function.producer[0].environment[0].variables["RUNNER_PROJECT_ALLOWLIST"] == "p1,p2"
    error_message = "the allowlist reaches the producer"
  }
}

run "create_false_creates_nothing" {
  command = plan

  variables {
    create = false
  }

  assert {
    condition     = length(aws_sqs_queue.this) == 0 && length(aws_lambda_function.consumer) == 0 && length(aws_secretsmanager_secret.ssh_key) == 0
    error_message = "create = false must create nothing"
  }
}
