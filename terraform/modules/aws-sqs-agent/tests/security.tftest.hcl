# Plan-only checks of the security settings, against a mocked provider (no AWS account, no network).

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

run "webhook_is_its_own_capped_function" {
  command = plan

  variables {
    create_webhook_url = true
  }

  assert {
    condition     = aws_lambda_function.webhook[0].handler == "functions.aws.webhook"
    error_message = "the public URL's function runs the signed-only webhook handler"
  }

  assert {
    condition     = aws_lambda_function.webhook[0].reserved_concurrent_executions == 5
    error_message = "the webhook function has reserved concurrency (a flood cannot starve the consumers)"
  }

  assert {
    condition     = aws_lambda_function_url.webhook[0].function_name == aws_lambda_function.webhook[0].function_name
    error_message = "the function URL points at the webhook function, not the producer"
  }

  assert {
    condition     = aws_lambda_function.producer[0].handler == "functions.aws.dispatch"
    error_message = "the producer keeps the schedule handler"
  }
}

run "secret_names_in_environment_variables_are_rejected" {
  command = plan

  variables {
    environment_variables = { ENCORD_SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----" }
  }

  expect_failures = [var.environment_variables]
}

run "other_secret_names_in_environment_variables_are_rejected" {
  command = plan

  variables {
    environment_variables = { RUNNER_MAX_CONCURRENCY = "4", my_api_token = "t" }
  }

  expect_failures = [var.environment_variables]
}

run "plain_settings_in_environment_variables_are_accepted" {
  command = plan

  variables {
    environment_variables = { RUNNER_MAX_CONCURRENCY = "4", ENCORD_DOMAIN = "https://api.encord.com" }
  }
}

run "kms_grants_only_through_sqs_and_secrets_manager" {
  command = plan

  variables {
    kms_master_key_id  = "arn:aws:kms:eu-west-1:123456789012:key/queue"
    secrets_kms_key_id = "arn:aws:kms:eu-west-1:123456789012:key/secrets"
  }

  assert {
    condition = alltrue([
      for statement in jsondecode(aws_iam_role_policy.consumer_kms[0].policy).Statement :
      contains(keys(try(statement.Condition.StringEquals, {})), "kms:ViaService")
      if startswith(try(statement.Action[0], ""), "kms:")
    ])
    error_message = "every KMS grant carries a kms:ViaService condition"
  }

  assert {
    condition = length([
      for statement in jsondecode(aws_iam_role_policy.consumer_kms[0].policy).Statement : statement
      if startswith(try(statement.Action[0], ""), "kms:")
    ]) == 1
    error_message = "the consumer has its KMS grant"
  }
}
