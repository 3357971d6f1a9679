"""modules/platform waits for the APIs: on a new project, a first apply races API enablement.

Every module called from modules/platform whose resources or data sources need a Google API must
``depends_on`` google_project_service.this, and that resource must enable every API the modules
use (parsed from the .tf files, so a new resource type with a new API fails here until it is
mapped and enabled).
"""

from __future__ import annotations

import re
from pathlib import Path

from .hcl import literal, parse_tree, resources, unquote

SERVICES = "${google_project_service.this}"
# Resource/data type prefix -> the API it calls (longest prefix wins).
API_OF_PREFIX = {
    "google_artifact_registry_": "artifactregistry.googleapis.com",
    "google_bigquery_": "bigquery.googleapis.com",
    "google_cloud_run_": "run.googleapis.com",
    "google_cloudfunctions2_": "cloudfunctions.googleapis.com",
    "google_composer_": "composer.googleapis.com",
    "google_compute_": "compute.googleapis.com",
    "google_logging_": "logging.googleapis.com",
    "google_monitoring_": "monitoring.googleapis.com",
    "google_project_iam_": "cloudresourcemanager.googleapis.com",
    "google_project": "cloudresourcemanager.googleapis.com",
    "google_pubsub_": "pubsub.googleapis.com",
    "google_secret_manager_": "secretmanager.googleapis.com",
    "google_service_account": "iam.googleapis.com",
    "google_storage_": "storage.googleapis.com",
}
# Enabling APIs is itself the Service Usage API, which every project has on.
NO_API = {"google_project_service"}


def api_of(rtype: str) -> str | None:
    """The API a resource or data source type needs, None if none; KeyError if unmapped."""
    if rtype in NO_API or not rtype.startswith("google_"):
        return None
    matches = [prefix for prefix in API_OF_PREFIX if rtype.startswith(prefix)]
    if not matches:
        raise KeyError(rtype)
    return API_OF_PREFIX[max(matches, key=len)]


def apis_used(module: Path) -> tuple[set[str], list[str]]:
    """APIs the resources and data sources of one module folder need, and unmapped types."""
    parsed, problems = parse_tree(module)
    apis: set[str] = set()
    for kind in ("resource", "data"):
        for _, rtype, _, _ in resources(parsed, kind):
            try:
                api = api_of(rtype)
            except KeyError:
                problems.append(f"{module.name}: {kind} {rtype}: which API does it need? (API_OF_PREFIX)")
                continue
            if api:
                apis.add(api)
    return apis, problems


def enabled_apis(parsed: dict[Path, dict]) -> set[str]:
    for _, rtype, name, body in resources(parsed):
        if (rtype, name) == ("google_project_service", "this"):
            return set(re.findall(r"[a-z0-9]+\.googleapis\.com", str(body.get("for_each", ""))))
    return set()


def api_dependency_problems(root: Path) -> list[str]:
    """Every module call in modules/platform that needs an API depends on the enabled services."""
    platform_dir = root / "modules" / "platform"
    parsed, problems = parse_tree(platform_dir)
    main = parsed.get(platform_dir / "main.tf", {})
    enabled = enabled_apis(parsed)
    if not enabled:
        return problems + ["modules/platform/main.tf: no google_project_service.this with a list of APIs"]
    needed, _ = apis_used(platform_dir)  # its own resources (the audit config) count too
    for block in main.get("module", []):
        for name, body in block.items():
            source = literal(body.get("source")) or ""
            apis, unmapped = apis_used((platform_dir / source).resolve())
            problems += unmapped
            needed |= apis
            if apis and SERVICES not in body.get("depends_on", []):
                problems.append(
                    f'modules/platform/main.tf: module "{unquote(name)}" uses {", ".join(sorted(apis))} '
                    "but has no depends_on = [google_project_service.this]"
                )
    for _, rtype, name, body in resources(parsed):
        if rtype != "google_project_service" and api_of(rtype) and SERVICES not in body.get("depends_on", []):
            problems.append(
                f"modules/platform/main.tf: {rtype}.{name}: no depends_on = [google_project_service.this]"
            )
    problems += [
        f"modules/platform/main.tf: google_project_service.this does not enable {api}"
        for api in sorted(needed - enabled)
    ]
    return problems
