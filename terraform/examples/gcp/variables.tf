variable "project_id" {
  description = "Google Cloud project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the functions and the scheduler job."
  type        = string
  default     = "europe-west1"
}

variable "name" {
  description = "Name prefix of every resource."
  type        = string
  default     = "encord-agent"
}

variable "source_zip_path" {
  description = "The zip made by `runner-core build gcp --out build/gcp`."
  type        = string
  default     = "../../../build/gcp/source.zip"
}

variable "runner_target" {
  description = "Your runner as package.module:attr (the build prints it as RUNNER_TARGET)."
  type        = string
}

variable "create_webhook" {
  description = "Make the producer reachable by Encord's webhook."
  type        = bool
  default     = false
}

variable "alert_email" {
  description = "Email notified when tasks are dead-lettered; null sends no notification."
  type        = string
  default     = null
}
