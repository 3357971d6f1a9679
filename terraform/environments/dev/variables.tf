# Cloud Build passes project_id, region and the trigger source with -var; settings is
# terraform.tfvars. Types and descriptions: modules/platform/variables.tf.
variable "project_id" { type = string }
variable "region" { type = string }
variable "trigger_source_bucket" { type = string }
variable "trigger_source_object" { type = string }
variable "settings" { type = any }
