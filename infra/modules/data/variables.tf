variable "manifest" {
  description = "The decoded resource manifest (infra/resources.json)."
  type        = any
}

variable "deletion_protection" {
  description = "Refuse to delete the tables (turn off before a teardown)."
  type        = bool
  default     = true
}
