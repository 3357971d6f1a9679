# No providers on purpose: evaluated offline by tests/infra.
terraform {
  required_version = ">= 1.5"
}
