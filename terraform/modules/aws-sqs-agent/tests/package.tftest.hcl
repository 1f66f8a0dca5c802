# Plan-only checks of how the code reaches Lambda (S3 object or container image) and of the functions' resources,
# against a mocked provider (no AWS account, no network).

mock_provider "aws" {
  override_during = plan

  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:mock"
      url = "https://sqs.eu-west-1.amazonaws.com/123456789012/mock"
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
  mock_resource "aws_lambda_alias" {
    defaults = {
      arn = "arn:aws:lambda:eu-west-1:123456789012:function:mock:live"
    }
  }
  mock_resource "aws_s3_bucket" {
    defaults = {
      id = "agent-package-mock"
    }
  }
  mock_resource "aws_s3_object" {
    defaults = {
      version_id = "v-mock-1"
    }
  }
}

variables {
  name                     = "agent"
  package_path             = "lambda.zip"
  package_source_code_hash = "bW9jaw=="
  runner_target            = "my_agent.agent:runner"
}

run "zip_goes_through_a_created_versioned_bucket" {
  command = plan

  assert {
    condition     = aws_lambda_function.consumer[0].filename == null && aws_lambda_function.producer[0].filename == null
    error_message = "no direct upload: Lambda caps those at 50 MB zipped"
  }
  assert {
    condition     = aws_lambda_function.consumer[0].s3_bucket == "agent-package-mock" && aws_lambda_function.consumer[0].s3_key == "agent/lambda.zip"
    error_message = "the consumer runs the uploaded object"
  }
  assert {
    condition     = aws_lambda_function.consumer[0].s3_object_version == "v-mock-1" && aws_lambda_function.producer[0].s3_object_version == "v-mock-1"
    error_message = "both functions pin the object version, so a new build redeploys"
  }
  assert {
    condition     = aws_s3_object.package[0].source == "lambda.zip" && aws_s3_object.package[0].bucket == "agent-package-mock"
    error_message = "the zip is uploaded to the created bucket"
  }
  assert {
    condition     = aws_s3_bucket_versioning.package[0].versioning_configuration[0].status == "Enabled"
    error_message = "the package bucket is versioned"
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.package[0].restrict_public_buckets
    error_message = "the package bucket is private"
  }
  assert {
    condition     = aws_lambda_function.consumer[0].package_type == "Zip" && aws_lambda_function.consumer[0].runtime == "python3.12"
    error_message = "a zip runs on the managed Python runtime"
  }
}

run "zip_goes_to_a_bucket_you_pass" {
  command = plan

  variables {
    package_s3_bucket     = "my-artifacts"
    package_s3_key_prefix = "agents/"
  }

  assert {
    condition     = length(aws_s3_bucket.package) == 0
    error_message = "no bucket is created when one is passed"
  }
  assert {
    condition     = aws_s3_object.package[0].bucket == "my-artifacts" && aws_lambda_function.consumer[0].s3_key == "agents/agent/lambda.zip"
    error_message = "the zip goes to the passed bucket under the prefix"
  }
}

run "image_for_both_functions" {
  command = plan

  variables {
    package_path = null
    image_uri    = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/agent:1"
  }

  assert {
    condition     = aws_lambda_function.consumer[0].package_type == "Image" && aws_lambda_function.producer[0].package_type == "Image"
    error_message = "both functions run the image"
  }
  assert {
    condition     = aws_lambda_function.producer[0].image_uri == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/agent:1"
    error_message = "the producer runs the same image"
  }
  assert {
    condition     = aws_lambda_function.consumer[0].image_config[0].command == tolist(["functions.aws.consume"]) && aws_lambda_function.producer[0].image_config[0].command == tolist(["functions.aws.dispatch"])
    error_message = "each function's handler is its image CMD"
  }
  assert {
    condition     = aws_lambda_function.consumer[0].runtime == null && aws_lambda_function.consumer[0].handler == null
    error_message = "an image function has no managed runtime or handler"
  }
  assert {
    condition     = length(aws_s3_object.package) == 0 && length(aws_s3_bucket.package) == 0
    error_message = "nothing is uploaded for an image"
  }
}

run "resources_reach_the_functions" {
  command = plan

  variables {
    consumer_memory_size            = 3008
    consumer_timeout                = 300
    consumer_ephemeral_storage_size = 4096
    consumer_reserved_concurrency   = 20
    maximum_concurrency             = 20
    architecture                    = "arm64"
  }

  assert {
    condition     = aws_lambda_function.consumer[0].memory_size == 3008 && aws_lambda_function.consumer[0].timeout == 300
    error_message = "memory and timeout reach the consumer"
  }
  assert {
    condition     = aws_lambda_function.consumer[0].ephemeral_storage[0].size == 4096
    error_message = "ephemeral storage (/tmp) reaches the consumer"
  }
  assert {
    condition     = aws_lambda_function.consumer[0].reserved_concurrent_executions == 20
    error_message = "reserved concurrency reaches the consumer"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.consumer[0].scaling_config[0].maximum_concurrency == 20
    error_message = "maximum concurrency reaches the event source mapping"
  }
  assert {
    condition     = aws_lambda_function.consumer[0].architectures == tolist(["arm64"]) && aws_lambda_function.producer[0].architectures == tolist(["arm64"])
    error_message = "the architecture reaches both functions"
  }
}

run "ephemeral_storage_is_bounded" {
  command = plan

  variables {
    consumer_ephemeral_storage_size = 20000
  }

  expect_failures = [var.consumer_ephemeral_storage_size]
}

run "a_zip_or_an_image_not_both" {
  command = plan

  variables {
    image_uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/agent:1"
  }

  expect_failures = [var.image_uri]
}

run "snap_start_publishes_versions_and_the_queue_invokes_the_alias" {
  command = plan

  variables {
    snap_start = true
  }

  assert {
    condition     = aws_lambda_function.consumer[0].publish && aws_lambda_function.consumer[0].snap_start[0].apply_on == "PublishedVersions"
    error_message = "SnapStart publishes versions and snapshots them"
  }
  assert {
    condition     = aws_lambda_alias.consumer[0].name == "live" && aws_lambda_alias.consumer[0].function_version == aws_lambda_function.consumer[0].version
    error_message = "the alias points at the published version"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.consumer[0].function_name == aws_lambda_alias.consumer[0].arn
    error_message = "the queue invokes the alias, never $LATEST"
  }
}

run "snap_start_off_invokes_the_function" {
  command = plan

  assert {
    condition     = length(aws_lambda_alias.consumer) == 0 && !aws_lambda_function.consumer[0].publish
    error_message = "no versions or alias without SnapStart"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.consumer[0].function_name == aws_lambda_function.consumer[0].arn
    error_message = "the queue invokes the function"
  }
}

run "snap_start_needs_python_312" {
  command = plan

  variables {
    snap_start = true
    runtime    = "python3.11"
  }

  expect_failures = [aws_lambda_alias.consumer]
}

run "the_webhook_function_runs_the_same_package" {
  command = plan

  variables {
    create_webhook_url = true
  }

  assert {
    condition     = aws_lambda_function.webhook[0].filename == null && aws_lambda_function.webhook[0].s3_object_version == "v-mock-1"
    error_message = "the webhook function runs the uploaded object version too"
  }
}

run "the_webhook_function_runs_the_image" {
  command = plan

  variables {
    create_webhook_url = true
    package_path       = null
    image_uri          = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/agent:1"
  }

  assert {
    condition     = aws_lambda_function.webhook[0].package_type == "Image" && aws_lambda_function.webhook[0].image_config[0].command == tolist([var.webhook_handler])
    error_message = "the webhook function runs the image with its own handler as CMD"
  }
}
