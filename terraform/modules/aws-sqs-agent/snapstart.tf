################################################################################
# SnapStart: versions, an alias, and the queue wired to the alias
################################################################################

# SnapStart snapshots a published version after its init (functions/_snapstart.py warms the runner and the
# instance-scoped dependencies first); the event source mapping must invoke that version, through an alias, or it
# would run $LATEST, which SnapStart never applies to.
locals {
  consumer_invoke_arn = var.snap_start ? try(aws_lambda_alias.consumer[0].arn, null) : try(aws_lambda_function.consumer[0].arn, null)
}

resource "aws_lambda_alias" "consumer" {
  count = local.create && var.snap_start ? 1 : 0

  name             = var.snap_start_alias
  description      = "The published consumer version the queue invokes (SnapStart)."
  function_name    = aws_lambda_function.consumer[0].function_name
  function_version = aws_lambda_function.consumer[0].version

  lifecycle {
    precondition {
      condition     = !local.use_image && can(regex("^python3\\.(1[2-9]|[2-9][0-9])$", var.runtime))
      error_message = "SnapStart here is for a zip on the python3.12 runtime or later (not an image)."
    }
  }
}
