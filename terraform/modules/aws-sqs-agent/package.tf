################################################################################
# Package: the zip through S3 (no 50 MB direct-upload cap), or a container image
################################################################################

locals {
  use_image = var.image_uri != null
  # Lambda takes a direct `filename` upload only up to 50 MB zipped; through S3 the zip may be as large as the
  # 250 MB unzipped limit allows. The bucket is versioned, so each build is a new object version and redeploys.
  create_package_bucket = local.create && !local.use_image && var.package_s3_bucket == null
  package_s3_bucket     = local.use_image || var.package_s3_bucket != null ? var.package_s3_bucket : try(aws_s3_bucket.package[0].id, null)
  package_s3_key        = local.use_image ? null : "${var.package_s3_key_prefix}${var.name}/lambda.zip"
  package_type          = local.use_image ? "Image" : "Zip"
  source_code_hash      = local.use_image ? null : coalesce(var.package_source_code_hash, try(filebase64sha256(var.package_path), null))
}

resource "aws_s3_bucket" "package" {
  #checkov:skip=CKV_AWS_18:Holds build artifacts written by Terraform only; CloudTrail data events cover access if required
  #checkov:skip=CKV_AWS_144:A build artifact is rebuilt from source; cross-region replication would only double its storage
  #checkov:skip=CKV_AWS_145:SSE-S3 by default so no key policy is needed; pass package_bucket_kms_key_id for SSE-KMS
  #checkov:skip=CKV2_AWS_62:Nothing reacts to a new artifact except this module's own Lambda update
  count = local.create_package_bucket ? 1 : 0

  bucket_prefix = "${lower(var.name)}-package-"
  force_destroy = var.package_bucket_force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_versioning" "package" {
  count = local.create_package_bucket ? 1 : 0

  bucket = aws_s3_bucket.package[0].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_public_access_block" "package" {
  count = local.create_package_bucket ? 1 : 0

  bucket                  = aws_s3_bucket.package[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "package" {
  count = local.create_package_bucket ? 1 : 0

  bucket = aws_s3_bucket.package[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.package_bucket_kms_key_id == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.package_bucket_kms_key_id
    }
  }
}

# Old builds are kept for rollback (see README, "Roll back") for package_noncurrent_version_days, then expire.
resource "aws_s3_bucket_lifecycle_configuration" "package" {
  count = local.create_package_bucket ? 1 : 0

  bucket = aws_s3_bucket.package[0].id

  rule {
    id     = "expire-old-builds"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.package_noncurrent_version_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.package]
}

resource "aws_s3_object" "package" {
  count = local.create && !local.use_image ? 1 : 0

  bucket      = local.package_s3_bucket
  key         = local.package_s3_key
  source      = var.package_path
  source_hash = local.source_code_hash

  tags = var.tags

  # A new object version must exist before the functions point at it.
  depends_on = [aws_s3_bucket_versioning.package]
}
