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

  # One entry a metric, keyed by its name under the prefix. match: what narrows the consumer's lines;
  # labels: label => the jsonPayload field it is extracted from; value_field and buckets: set for a distribution
  # (a metric without them counts lines).
  log_metrics = {
    task_outcomes = {
      description = "Task outcomes of ${var.name}: kind is moved, held, skipped_duplicate, skipped_not_at_stage, failed_retryable or failed_permanent."
      match       = "jsonPayload.event = \"task_outcome\""
      unit        = "1"
      labels = {
        project = { field = "project_hash", description = "Encord project hash." }
        stage   = { field = "stage_uuid", description = "Agent stage uuid." }
        kind    = { field = "kind", description = "Outcome kind." }
        pathway = { field = "pathway", description = "Pathway a moved task followed." }
      }
      value_field = null
      buckets     = null
    }
    agent_duration = {
      description = "Time from fetch to proceed of each task that ran its agent (skipped tasks excluded), in ms."
      match       = "jsonPayload.event = \"task_outcome\" AND jsonPayload.outcome != \"skipped\""
      unit        = "ms"
      labels = {
        project = { field = "project_hash", description = "Encord project hash." }
        stage   = { field = "stage_uuid", description = "Agent stage uuid." }
      }
      value_field = "duration_ms"
      buckets     = { num_finite_buckets = 40, growth_factor = 1.5, scale = 10 }
    }
    encord_requests = {
      description = "Encord API requests of the batch each task ran in (one task per message by default: the message's requests)."
      match       = "jsonPayload.event = \"task_outcome\" AND jsonPayload.encord_requests >= 0"
      unit        = "1"
      labels = {
        project = { field = "project_hash", description = "Encord project hash." }
        stage   = { field = "stage_uuid", description = "Agent stage uuid." }
      }
      value_field = "encord_requests"
      buckets     = { num_finite_buckets = 20, growth_factor = 2, scale = 1 }
    }
    dead_lettered = {
      description = "Messages the consumer published to the dead-letter topic (permanent failures, last attempts)."
      match       = "jsonPayload.event = \"dead_lettered\""
      unit        = "1"
      labels = {
        project = { field = "project_hash", description = "Encord project hash (unknown for an undecodable message)." }
        stage   = { field = "stage_uuid", description = "Agent stage uuid (unknown for an undecodable message)." }
      }
      value_field = null
      buckets     = null
    }
    messages_rejected = {
      description = "Messages with nothing decodable in them (malformed, oversized, unsupported version)."
      match       = "jsonPayload.event = \"message_rejected\""
      unit        = "1"
      labels      = {}
      value_field = null
      buckets     = null
    }
    cold_starts = {
      description = "Consumer instances started (one line per instance, on its first message)."
      match       = "jsonPayload.event = \"cold_start\""
      unit        = "1"
      labels      = {}
      value_field = null
      buckets     = null
    }
  }
}

resource "google_logging_metric" "consumer" {
  # A for, not a conditional: the entries differ in type (their labels), which a conditional cannot unify.
  for_each = { for name, metric in local.log_metrics : name => metric if local.create_log_metrics }

  project     = var.project_id
  name        = "${local.log_metric_prefix}${each.key}"
  description = each.value.description
  filter      = "${local.consumer_log_filter} AND ${each.value.match}"

  value_extractor = each.value.value_field == null ? null : "EXTRACT(jsonPayload.${each.value.value_field})"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = each.value.buckets == null ? "INT64" : "DISTRIBUTION"
    unit        = each.value.unit

    dynamic "labels" {
      for_each = each.value.labels
      content {
        key         = labels.key
        value_type  = "STRING"
        description = labels.value.description
      }
    }
  }

  label_extractors = length(each.value.labels) == 0 ? null : {
    for key, label in each.value.labels : key => "EXTRACT(jsonPayload.${label.field})"
  }

  dynamic "bucket_options" {
    for_each = each.value.buckets == null ? [] : [each.value.buckets]
    content {
      exponential_buckets {
        num_finite_buckets = bucket_options.value.num_finite_buckets
        growth_factor      = bucket_options.value.growth_factor
        scale              = bucket_options.value.scale
      }
    }
  }
}

