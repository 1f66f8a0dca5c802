# The example wires the module up with the settings we recommend (plan only, mocked provider).

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
      arn = "arn:aws:sns:eu-west-1:123456789012:alarms"
    }
  }
}

variables {
  runner_target = "my_agent.agent:runner"
  # Any existing file works for a plan: the module hashes it for source_code_hash.
  package_path = "main.tf"
  alarm_email  = "oncall@example.com"
}

run "example_plan" {
  command = plan

  assert {
    condition     = module.agent.visibility_timeout_seconds == 720
    error_message = "120 s consumer timeout -> 720 s visibility timeout"
  }

  assert {
    condition     = module.agent.package_s3_key == "encord-agent/lambda.zip"
    error_message = "the example uploads the zip to S3"
  }

  assert {
    condition     = length(aws_sns_topic_subscription.alarm_email) == 1
    error_message = "the DLQ alarm notifies by email"
  }
}
