# No providers on purpose: this module only reads events.json and builds strings, so it can be
# initialised and evaluated offline (tests/infra evaluates it against feedline.orchestrate.events).
terraform {
  required_version = ">= 1.5"
}
