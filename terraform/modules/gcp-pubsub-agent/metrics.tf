################################################################################
# Log-based metrics: counted by Cloud Logging from the consumer's structured lines (no client at run time).
# The fields are those functions/structured_logs.py writes: event, project_hash, stage_uuid, kind, pathway,
# duration_ms, encord_requests. Tests feed real captured lines through these filters
# (tests/integration/functions/test_functions_metrics.py).
################################################################################

variable "create_log_metrics" {
  description = "Create log-based metrics (task outcomes per kind, agent duration, Encord requests, dead letters, rejected messages, cold starts) from the consumer's logs."
  type        = bool
  default     = true
}

locals {
  create_log_metrics = local.create && var.create_log_metrics
  # Cloud Functions gen2 runs on Cloud Run: its lines carry the service (= function) name.
  consumer_log_filter = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${var.name}-consumer\""
  # Metric names may hold "/": the module's metrics group under its name in Metrics Explorer.
  log_metric_prefix = "${var.name}/"
}

resource "google_logging_metric" "task_outcomes" {
  count = local.create_log_metrics ? 1 : 0

  project     = var.project_id
  name        = "${local.log_metric_prefix}task_outcomes"
  description = "Task outcomes of ${var.name}: kind is moved, held, skipped_duplicate, skipped_not_at_stage, failed_retryable or failed_permanent."
  filter      = "${local.consumer_log_filter} AND jsonPayload.event = \"task_outcome\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "project"
      value_type  = "STRING"
      description = "Encord project hash."
    }
    labels {
      key         = "stage"
      value_type  = "STRING"
      description = "Agent stage uuid."
    }
    labels {
      key         = "kind"
      value_type  = "STRING"
      description = "Outcome kind."
    }
    labels {
      key         = "pathway"
      value_type  = "STRING"
      description = "Pathway a moved task followed."
    }
  }

  label_extractors = {
    project = "EXTRACT(jsonPayload.project_hash)"
    stage   = "EXTRACT(jsonPayload.stage_uuid)"
    kind    = "EXTRACT(jsonPayload.kind)"
    pathway = "EXTRACT(jsonPayload.pathway)"
  }
}

resource "google_logging_metric" "agent_duration" {
  count = local.create_log_metrics ? 1 : 0

  project     = var.project_id
  name        = "${local.log_metric_prefix}agent_duration"
  description = "Time from fetch to proceed of each task that ran its agent (skipped tasks excluded), in ms."
  filter      = "${local.consumer_log_filter} AND jsonPayload.event = \"task_outcome\" AND jsonPayload.outcome != \"skipped\""

  value_extractor = "EXTRACT(jsonPayload.duration_ms)"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "ms"

    labels {
      key         = "project"
      value_type  = "STRING"
      description = "Encord project hash."
    }
    labels {
      key         = "stage"
      value_type  = "STRING"
      description = "Agent stage uuid."
    }
  }

  label_extractors = {
    project = "EXTRACT(jsonPayload.project_hash)"
    stage   = "EXTRACT(jsonPayload.stage_uuid)"
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 40
      growth_factor      = 1.5
      scale              = 10
    }
  }
}

resource "google_logging_metric" "encord_requests" {
  count = local.create_log_metrics ? 1 : 0

  project     = var.project_id
  name        = "${local.log_metric_prefix}encord_requests"
  description = "Encord API requests of the batch each task ran in (one task per message by default: the message's requests)."
  filter      = "${local.consumer_log_filter} AND jsonPayload.event = \"task_outcome\" AND jsonPayload.encord_requests >= 0"

  value_extractor = "EXTRACT(jsonPayload.encord_requests)"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "1"

    labels {
      key         = "project"
      value_type  = "STRING"
      description = "Encord project hash."
    }
    labels {
      key         = "stage"
      value_type  = "STRING"
      description = "Agent stage uuid."
    }
  }

  label_extractors = {
    project = "EXTRACT(jsonPayload.project_hash)"
    stage   = "EXTRACT(jsonPayload.stage_uuid)"
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 20
      growth_factor      = 2
      scale              = 1
    }
  }
}

resource "google_logging_metric" "dead_lettered" {
  count = local.create_log_metrics ? 1 : 0

  project     = var.project_id
  name        = "${local.log_metric_prefix}dead_lettered"
  description = "Messages the consumer published to the dead-letter topic (permanent failures, last attempts)."
  filter      = "${local.consumer_log_filter} AND jsonPayload.event = \"dead_lettered\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "project"
      value_type  = "STRING"
      description = "Encord project hash (unknown for an undecodable message)."
    }
    labels {
      key         = "stage"
      value_type  = "STRING"
      description = "Agent stage uuid (unknown for an undecodable message)."
    }
  }

  label_extractors = {
    project = "EXTRACT(jsonPayload.project_hash)"
    stage   = "EXTRACT(jsonPayload.stage_uuid)"
  }
}

resource "google_logging_metric" "messages_rejected" {
  count = local.create_log_metrics ? 1 : 0

  project     = var.project_id
  name        = "${local.log_metric_prefix}messages_rejected"
  description = "Messages with nothing decodable in them (malformed, oversized, unsupported version)."
  filter      = "${local.consumer_log_filter} AND jsonPayload.event = \"message_rejected\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

resource "google_logging_metric" "cold_starts" {
  count = local.create_log_metrics ? 1 : 0

  project     = var.project_id
  name        = "${local.log_metric_prefix}cold_starts"
  description = "Consumer instances started (one line per instance, on its first message)."
  filter      = "${local.consumer_log_filter} AND jsonPayload.event = \"cold_start\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}
