# Plan-only checks of the alarms, the alarm topic and the dashboard, against a mocked provider.

mock_provider "aws" {
  override_during = plan

  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:mock"
      url = "https://sqs.eu-west-1.amazonaws.com/123456789012/mock"
    }
  }
  mock_resource "aws_sns_topic" {
    defaults = {
      arn = "arn:aws:sns:eu-west-1:123456789012:agent-alarms"
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
  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  name                     = "agent"
  package_path             = "lambda.zip"
  package_source_code_hash = "bW9jaw=="
  runner_target            = "my_agent.agent:runner"
}

run "alarms_notify_a_created_topic_by_default" {
  command = plan

  assert {
    condition     = length(aws_sns_topic.alarms) == 1 && aws_sns_topic.alarms[0].kms_master_key_id == "alias/aws/sns"
    error_message = "with no topic passed, the module creates an encrypted alarm topic"
  }

  assert {
    condition = alltrue([
      for alarm in [aws_cloudwatch_metric_alarm.dlq[0], aws_cloudwatch_metric_alarm.oldest_message_age[0], aws_cloudwatch_metric_alarm.consumer["errors"], aws_cloudwatch_metric_alarm.consumer["throttles"]] :
      contains(alarm.alarm_actions, "arn:aws:sns:eu-west-1:123456789012:agent-alarms")
    ])
    error_message = "every alarm (dead letters included) notifies the alarm topic"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.dlq[0].metric_name == "ApproximateNumberOfMessagesVisible"
      && aws_cloudwatch_metric_alarm.dlq[0].dimensions.QueueName == "agent-dlq"
      && aws_cloudwatch_metric_alarm.dlq[0].threshold == 0
      && aws_cloudwatch_metric_alarm.dlq[0].comparison_operator == "GreaterThanThreshold"
    )
    error_message = "the dead-letter alarm fires on one visible message in the DLQ"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.oldest_message_age[0].metric_name == "ApproximateAgeOfOldestMessage"
      && aws_cloudwatch_metric_alarm.oldest_message_age[0].dimensions.QueueName == "agent"
      && aws_cloudwatch_metric_alarm.oldest_message_age[0].threshold == 900
      && aws_cloudwatch_metric_alarm.oldest_message_age[0].namespace == "AWS/SQS"
    )
    error_message = "the age alarm watches the work queue's oldest message against 900 s by default"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.consumer["errors"].metric_name == "Errors"
      && aws_cloudwatch_metric_alarm.consumer["errors"].dimensions.FunctionName == "agent-consumer"
      && aws_cloudwatch_metric_alarm.consumer["throttles"].metric_name == "Throttles"
      && aws_cloudwatch_metric_alarm.consumer["throttles"].dimensions.FunctionName == "agent-consumer"
    )
    error_message = "errors and throttles are watched on the consumer function"
  }

  assert {
    condition     = aws_lambda_function.consumer[0].environment[0].variables["POWERTOOLS_METRICS_NAMESPACE"] == "runner-core"
    error_message = "the consumer writes its EMF metrics into the dashboard's namespace"
  }

  assert {
    condition = (
      length(aws_cloudwatch_dashboard.this) == 1
      && strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "TasksFailedPermanent")
      && strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "ApproximateAgeOfOldestMessage")
      && strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "service=\\\"agent-consumer\\\"")
    )
    error_message = "the dashboard shows outcomes and queue age for this consumer"
  }
}

run "a_passed_topic_is_used_and_none_created" {
  command = plan

  variables {
    alarm_sns_topic_arn                  = "arn:aws:sns:eu-west-1:123456789012:ops"
    oldest_message_age_threshold_seconds = 120
  }

  assert {
    condition     = length(aws_sns_topic.alarms) == 0
    error_message = "no topic is created when one is passed"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.oldest_message_age[0].alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:ops"])
    error_message = "the alarms notify the passed topic"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.oldest_message_age[0].threshold == 120
    error_message = "the age threshold is configurable"
  }
}

run "everything_can_be_turned_off" {
  command = plan

  variables {
    create_alarms    = false
    create_dlq_alarm = false
    create_dashboard = false
  }

  assert {
    condition = (
      length(aws_cloudwatch_metric_alarm.dlq) + length(aws_cloudwatch_metric_alarm.oldest_message_age)
      + length(aws_cloudwatch_metric_alarm.consumer)
      + length(aws_sns_topic.alarms) + length(aws_cloudwatch_dashboard.this) == 0
    )
    error_message = "opting out leaves no alarm, topic or dashboard"
  }
}

run "age_threshold_below_a_minute_is_rejected" {
  command = plan

  variables {
    oldest_message_age_threshold_seconds = 30
  }

  expect_failures = [var.oldest_message_age_threshold_seconds]
}
