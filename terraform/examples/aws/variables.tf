variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Name prefix of every resource."
  type        = string
  default     = "encord-agent"
}

variable "package_path" {
  description = "The zip made by `runner-core build aws --out build/aws` (relative paths are from this folder)."
  type        = string
  default     = "../../../build/aws/lambda.zip"
}

variable "image_uri" {
  description = "An ECR image from `runner-core build aws --image` instead of the zip (package_path is then unused)."
  type        = string
  default     = null
}

variable "package_bucket_force_destroy" {
  description = "Let `terraform destroy` delete the package bucket with its old builds."
  type        = bool
  default     = false
}

variable "architecture" {
  description = "x86_64 or arm64; build with the same `--architecture`."
  type        = string
  default     = "x86_64"
}

variable "consumer_memory_size" {
  description = "Consumer memory in MB (128-10240; CPU scales with it)."
  type        = number
  default     = 1024
}

variable "consumer_timeout" {
  description = "Consumer timeout in seconds (the queue's visibility timeout is 6x this)."
  type        = number
  default     = 120
}

variable "consumer_ephemeral_storage_size" {
  description = "Consumer /tmp in MB (512-10240): media and model files."
  type        = number
  default     = 512
}

variable "consumer_reserved_concurrency" {
  description = "Reserved concurrency of the consumer; -1 reserves none."
  type        = number
  default     = -1
}

variable "maximum_concurrency" {
  description = "At most this many consumers poll the queue at once (2-1000)."
  type        = number
  default     = 5
}

variable "snap_start" {
  description = "SnapStart for the consumer: versions, an alias, snapshots after init (the model loaded in them)."
  type        = bool
  default     = false
}

variable "runner_target" {
  description = "Your runner as package.module:attr (the build prints it as RUNNER_TARGET)."
  type        = string
}

variable "create_webhook_url" {
  description = "Expose the producer as a function URL for Encord's webhook."
  type        = bool
  default     = false
}

variable "alarm_email" {
  description = "Email subscribed to the DLQ alarm topic; null creates no topic."
  type        = string
  default     = null
}

variable "aws_endpoint_url" {
  description = "Testing only: send every AWS API call to this endpoint (e.g. moto_server at http://127.0.0.1:5000)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = { "managed-by" = "terraform", "app" = "runner-core" }
}
