"""Offline checks of terraform/ and cloudbuild.yaml: what can be proven without a cloud account.

``python -m infra`` (from tools/, ``make infra-check``) runs them all. Each check returns a list
of problems (empty = pass), so tests/infra can run it on the real tree and on broken copies.
Imports only the standard library, python-hcl2, PyYAML and (for the wiring check) feedline.contract.

- hcl: every .tf/.tfvars file parses (python-hcl2); checkov silently passes a file it cannot parse;
- terraform_eval: ``terraform fmt -check``; the provider-free modules evaluated by terraform, and
  each environment's settings fit the variables of the modules that consume them;
- checkov: built-in checks (buckets: uniform access, public access prevention, versioning; no
  basic roles) and Feedline's YAML policies in terraform/checkov/ (no authoritative IAM, every
  alert policy notifies); every skip explained in terraform/README.md;
- iam: each role in the allow-list of the account or service agent it is granted to;
- environments: every environment is a thin root calling modules/platform once;
- platform: every module that needs a Google API depends on the enabled services;
- wiring: datasets (settings, grants), tables, views, packages as the Python side derives them;
- cloudbuild: the Cloud Build schema, step ids and waitFor, substitutions.
"""

from .checkov import checkov_bin, checkov_problems, checkov_skip_problems, checkov_summary, run_checkov
from .cloudbuild import cloudbuild_problems, cloudbuild_schema_problems, substitution_refs
from .environments import environment_problems, environments
from .hcl import hcl_files, parse_problems, parse_tree
from .iam import ALLOWED_ROLES, REQUIRED_ROLES, granted_roles, iam_problems, missing_grant_problems
from .composer_image import image_problems, image_versions, local_airflow
from .dataflow_api import dataflow_api_problems, discovery_document, request_problems, sample_launch_body
from .foreach_eval import write_stub
from .platform import api_dependency_problems, apis_used
from .terraform_eval import apply_root, derived_layout, evaluate, fmt_problems, interface_problems, provider_free
from .wiring import python_layout, requirements, wiring_problems

__all__ = [
    "ALLOWED_ROLES",
    "REQUIRED_ROLES",
    "dataflow_api_problems",
    "discovery_document",
    "granted_roles",
    "image_problems",
    "image_versions",
    "local_airflow",
    "missing_grant_problems",
    "provider_free",
    "request_problems",
    "sample_launch_body",
    "write_stub",
    "api_dependency_problems",
    "apis_used",
    "apply_root",
    "checkov_bin",
    "checkov_problems",
    "checkov_skip_problems",
    "checkov_summary",
    "cloudbuild_problems",
    "cloudbuild_schema_problems",
    "derived_layout",
    "environment_problems",
    "environments",
    "evaluate",
    "fmt_problems",
    "hcl_files",
    "iam_problems",
    "interface_problems",
    "parse_problems",
    "parse_tree",
    "python_layout",
    "requirements",
    "run_checkov",
    "substitution_refs",
    "wiring_problems",
]
