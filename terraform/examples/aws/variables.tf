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
