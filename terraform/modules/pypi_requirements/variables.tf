variable "requirements_file" {
  description = "pip requirements file of the Composer environment. Null = the repository's requirements.txt."
  type        = string
  default     = null
}
