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

variable "consumer_memory" {
  description = "Consumer memory (e.g. 1Gi; a model wants 2Gi or more)."
  type        = string
  default     = "1Gi"
}

variable "consumer_cpu" {
  description = "Consumer vCPUs (e.g. \"1\", \"2\"); null derives them from the memory."
  type        = string
  default     = null
}

variable "consumer_max_instance_count" {
  description = "At most this many consumer instances."
  type        = number
  default     = 5
}

variable "consumer_min_instance_count" {
  description = "Instances kept warm (no cold start, billed while idle); 0 scales to zero."
  type        = number
  default     = 0
}

variable "consumer_concurrency" {
  description = "Messages one consumer instance handles at once (needs at least 1 vCPU above 1)."
  type        = number
  default     = 1
}
