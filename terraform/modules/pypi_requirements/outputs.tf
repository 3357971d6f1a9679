output "packages" {
  description = "Package name -> version specifier, for the Composer environment's pypi_packages."
  value       = local.packages
}
