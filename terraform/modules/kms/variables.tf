variable "name" {
  type        = string
  description = "Name prefix of every resource, e.g. idgraph-prod."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource of the module."
  default     = {}
}

variable "deletion_window_in_days" {
  type        = number
  description = "Days a scheduled key deletion waits (7-30); long enough to notice a mistake."
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}
