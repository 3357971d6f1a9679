# requirements.txt -> the map google_composer_environment.pypi_packages wants:
# lower-case package name -> extras and version specifier ("==1.2.3", "" when unpinned).
# Comment and blank lines are skipped; an inline "# ..." comment is dropped.

locals {
  requirements_file = coalesce(var.requirements_file, "${path.module}/../../../requirements.txt")

  lines = [
    for raw in split("\n", file(local.requirements_file)) : trimspace(split("#", raw)[0])
  ]

  # "name[extra] ==1.0" -> ["name", "[extra]", "==1.0"]; Composer wants the extras in the value.
  requirements = [
    for line in local.lines : regex("^([A-Za-z0-9][A-Za-z0-9._-]*)\\s*(\\[[^\\]]*\\])?\\s*(.*)$", line)
    if line != ""
  ]

  packages = {
    for r in local.requirements : lower(r[0]) => lower(replace("${r[1] == null ? "" : r[1]}${r[2]}", " ", ""))
  }
}
