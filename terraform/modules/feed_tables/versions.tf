# No providers on purpose: this module only reads files and computes values, so it can be
# initialised and evaluated offline (tests/infra evaluates it and compares with feedline.contract.tables).
terraform {
  required_version = ">= 1.5"
}
