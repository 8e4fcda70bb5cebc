variable "manifest" {
  description = "The decoded resource manifest (infra/resources.json)."
  type        = any
}

variable "bucket_name_suffix" {
  description = "Appended to every manifest bucket name (S3 names are global: e.g. \"-<account id>\" on AWS, \"\" on an emulator)."
  type        = string
  default     = ""
}

variable "queue_arns" {
  description = "Queue ARN by manifest key (from the messaging module), for the buckets' event notifications."
  type        = map(string)
}

variable "queue_urls" {
  description = "Queue URL by manifest key (from the messaging module), for the queue policies."
  type        = map(string)
}

variable "cors_allowed_origins" {
  description = "Origins allowed to upload to / download from the buckets from a browser (narrow this to the web app's origin)."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.cors_allowed_origins, "*")
    error_message = "List the allowed origins: \"*\" would let any web page use the presigned URLs."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days an overwritten or deleted object version is kept in versioned buckets."
  type        = number
  default     = 30
}

variable "force_destroy" {
  description = "Let terraform destroy delete non-empty buckets (dev and test environments only)."
  type        = bool
  default     = false
}
