# The task ledger (runner_core.ledger) on Firestore in native mode: one document per task episode in one collection
# of the project's default database, so an agent runs once per episode whatever the producer runs and Pub/Sub
# deliveries. Contract with functions.ledgers.firestore: RUNNER_LEDGER_COLLECTION names the collection;
# `expires_at` (a timestamp) carries the TTL policy, which only tidies (every read compares the record's own expiry).

variable "create_ledger" {
  description = "Whether to use a task ledger (RUNNER_LEDGER_COLLECTION) and grant both functions roles/datastore.user. Without it a task delivered or published twice can run twice."
  type        = bool
  default     = true
}

variable "create_firestore_database" {
  description = "Create the project's (default) Firestore database in native mode; false uses the one the project already has."
  type        = bool
  default     = false
}

variable "firestore_location" {
  description = "Location of the Firestore database when create_firestore_database is true (e.g. eur3, nam5, europe-west1); null uses var.region."
  type        = string
  default     = null
}

variable "ledger_collection" {
  description = "Firestore collection of the ledger records."
  type        = string
  default     = "runner-ledger"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,100}$", var.ledger_collection))
    error_message = "ledger_collection must be 1-100 letters, digits, '_' or '-'."
  }
}

variable "ledger_lease_margin_seconds" {
  description = "A claim lasts until the consumer's deadline plus this margin (RUNNER_LEDGER_LEASE_MARGIN_S): a redelivery after the ack deadline while the first delivery still runs is retried, not run twice."
  type        = number
  default     = 15
}

variable "ledger_held_recheck_seconds" {
  description = "A task its agent held (no pathway) runs again after this many seconds, not on every producer run."
  type        = number
  default     = 900
}

variable "ledger_failed_window_seconds" {
  description = "A task that failed permanently is not re-published for this many seconds (a dead-letter replay still runs it)."
  type        = number
  default     = 86400
}

variable "ledger_fail_closed" {
  description = "When Firestore cannot be reached: false runs and publishes anyway (logged loudly), true retries later."
  type        = bool
  default     = false
}

locals {
  create_ledger = local.create && var.create_ledger

  ledger_environment = local.create_ledger ? {
    RUNNER_LEDGER_COLLECTION      = var.ledger_collection
    GOOGLE_CLOUD_PROJECT          = var.project_id
    RUNNER_LEDGER_LEASE_MARGIN_S  = tostring(var.ledger_lease_margin_seconds)
    RUNNER_LEDGER_HELD_RECHECK_S  = tostring(var.ledger_held_recheck_seconds)
    RUNNER_LEDGER_FAILED_WINDOW_S = tostring(var.ledger_failed_window_seconds)
    RUNNER_LEDGER_FAIL_CLOSED     = tostring(var.ledger_fail_closed)
  } : {}

  # Keys known at plan time (the members are not until the service accounts exist).
  ledger_users = local.create_ledger ? concat(["consumer"], local.create_producer ? ["producer"] : []) : []
}

resource "google_firestore_database" "ledger" {
  count = local.create_ledger && var.create_firestore_database ? 1 : 0

  project                           = var.project_id
  name                              = "(default)"
  location_id                       = coalesce(var.firestore_location, var.region)
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "OPTIMISTIC"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"
}

resource "google_firestore_field" "ledger_ttl" {
  count = local.create_ledger ? 1 : 0

  project    = var.project_id
  database   = try(google_firestore_database.ledger[0].name, "(default)")
  collection = var.ledger_collection
  field      = "expires_at"

  # A TTL policy, and no single-field index: nothing queries by expiry.
  ttl_config {}
  index_config {}
}

# Both functions read and write ledger documents (preconditioned writes, no transactions). Firestore roles are
# granted on the project; the IAM condition narrows the grant to the ledger's database.
resource "google_project_iam_member" "ledger_user" {
  count = local.create_ledger ? length(local.ledger_users) : 0

  project = var.project_id
  role    = "roles/datastore.user"
  member  = local.ledger_users[count.index] == "consumer" ? google_service_account.consumer[0].member : google_service_account.producer[0].member

  condition {
    title       = "runner-ledger-database"
    description = "Only the Firestore database that holds the task ledger."
    expression  = "resource.name == \"projects/${var.project_id}/databases/(default)\""
  }
}

output "ledger_collection" {
  description = "Firestore collection of the task ledger (RUNNER_LEDGER_COLLECTION), or null without a ledger."
  value       = local.create_ledger ? var.ledger_collection : null
}
