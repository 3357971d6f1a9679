# What Cloud Build reads after apply (terraform output -raw NAME); all outputs: platform.
output "composer_bucket" { value = module.platform.composer_bucket }
output "contracts_uri" { value = module.platform.contracts_uri }
output "flex_template_image" { value = module.platform.flex_template_image }
output "flex_template_spec" { value = module.platform.flex_template_spec }
output "platform" { value = module.platform }
