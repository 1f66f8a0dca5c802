# Plan-only checks of the task ledger: the table's contract, its IAM scope, and the lease-vs-visibility rule.

mock_provider "aws" {
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
  mock_resource "aws_dynamodb_table" {
    defaults = {
      arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/agent-ledger"
    }
  }
}

variables {
  name                     = "agent"
  package_path             = "lambda.zip"
  package_source_code_hash = "bW9jaw=="
  runner_target            = "my_agent.agent:runner"
}

run "ledger_table_follows_the_contract" {
  command = plan

  assert {
    condition     = aws_dynamodb_table.ledger[0].billing_mode == "PAY_PER_REQUEST" && aws_dynamodb_table.ledger[0].hash_key == "pk"
    error_message = "the ledger is an on-demand table keyed by the string partition key pk"
  }

  assert {
    condition     = one([for a in aws_dynamodb_table.ledger[0].attribute : a.type if a.name == "pk"]) == "S" && length(aws_dynamodb_table.ledger[0].attribute) == 1
    error_message = "pk must be the only key attribute, a string"
  }

  assert {
    condition     = aws_dynamodb_table.ledger[0].ttl[0].attribute_name == "expires_at" && aws_dynamodb_table.ledger[0].ttl[0].enabled
    error_message = "TTL must be on expires_at"
  }

  assert {
    condition     = aws_dynamodb_table.ledger[0].server_side_encryption[0].enabled && aws_dynamodb_table.ledger[0].point_in_time_recovery[0].enabled
    error_message = "the ledger must be encrypted, with point-in-time recovery on by default"
  }

  assert {
    condition     = aws_lambda_function.consumer[0].environment[0].variables["RUNNER_LEDGER_TABLE"] == aws_dynamodb_table.ledger[0].name && aws_lambda_function.producer[0].environment[0].variables["RUNNER_LEDGER_TABLE"] == aws_dynamodb_table.ledger[0].name
    error_message = "both functions must be pointed at the ledger table"
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.consumer_ledger[0].policy).Statement[0].Action == ["dynamodb:PutItem"] && jsondecode(aws_iam_role_policy.consumer_ledger[0].policy).Statement[0].Resource == [aws_dynamodb_table.ledger[0].arn]
    error_message = "the consumer may only put items, and only in the ledger table"
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.producer_ledger[0].policy).Statement[0].Resource == [aws_dynamodb_table.ledger[0].arn] && length(jsondecode(aws_iam_role_policy.producer_ledger[0].policy).Statement) == 1
    error_message = "the producer's ledger access is scoped to the table, and it reads no queue depth unless asked"
  }
}

run "pitr_is_a_variable_and_depth_watermark_grants_queue_attributes" {
  command = plan

  variables {
    ledger_point_in_time_recovery = false
    dispatch_max_queue_depth      = 5000
  }

  assert {
    condition     = !aws_dynamodb_table.ledger[0].point_in_time_recovery[0].enabled
    error_message = "ledger_point_in_time_recovery = false must turn PITR off"
  }

  assert {
    condition     = contains([for s in jsondecode(aws_iam_role_policy.producer_ledger[0].policy).Statement : s.Sid], "ReadQueueDepth") && aws_lambda_function.producer[0].environment[0].variables["RUNNER_DISPATCH_MAX_QUEUE_DEPTH"] == "5000"
    error_message = "a depth watermark needs sqs:GetQueueAttributes and reaches the producer"
  }
}

run "lease_must_be_shorter_than_the_visibility_timeout" {
  command = plan

  variables {
    consumer_timeout            = 100
    visibility_timeout_seconds  = 600
    ledger_lease_margin_seconds = 600
  }

  expect_failures = [aws_dynamodb_table.ledger]
}

run "no_ledger_means_no_table_and_no_grant" {
  command = plan

  variables {
    create_ledger = false
  }

  assert {
    condition     = length(aws_dynamodb_table.ledger) == 0 && length(aws_iam_role_policy.consumer_ledger) == 0 && !contains(keys(aws_lambda_function.consumer[0].environment[0].variables), "RUNNER_LEDGER_TABLE")
    error_message = "create_ledger = false must leave today's behaviour"
  }
}
