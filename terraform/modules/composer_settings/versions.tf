# No providers on purpose: values only, evaluated offline by tests/infra (with the real
# environments' settings) and fed to the real secrets backend class.
terraform {
  required_version = ">= 1.5"
}
