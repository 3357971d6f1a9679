"""The IAM allow-lists: every role granted under terraform/ is one its identity may hold.

checkov cannot do this: the grants are lists of { sa, role } objects that resources loop over
(``role = each.value.role``), which checkov does not resolve, and no built-in check knows which
account needs which role. Authoritative bindings are a checkov policy (terraform/checkov/).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .hcl import literal, parse_tree, walk

BASIC_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}

# What each identity may hold, and why. A grant outside its list fails the check.
ALLOWED_ROLES: dict[str, set[str]] = {
    "composer": {
        "roles/composer.worker",  # project: runs the environment's workloads
        "roles/bigquery.jobUser",  # project: load, query and MERGE jobs
        "roles/dataflow.developer",  # project: launch and watch flex template jobs
        "roles/bigquery.dataEditor",  # dataset: the writers in tables.json (load, raw, staging, ...)
        "roles/storage.objectUser",  # bucket: claim, archive, quarantine, load
        "roles/iam.serviceAccountUser",  # on the dataflow account only
        "roles/secretmanager.secretAccessor",  # on Airflow connection secrets only
    },
    "dataflow": {
        "roles/dataflow.worker",  # project
        "roles/storage.objectViewer",  # landing bucket
        "roles/storage.objectUser",  # dataflow scratch bucket
        "roles/artifactregistry.reader",  # the flex template repository
    },
    "trigger": {
        "roles/composer.user",  # project: Airflow REST API (no environment-level IAM exists)
        "roles/run.invoker",  # its own Cloud Run service (Pub/Sub push identity)
    },
    "cloudbuild": {
        # Applies terraform/: admin of exactly the services Feedline uses, nothing broader.
        "roles/storage.admin",
        "roles/bigquery.admin",
        "roles/composer.admin",
        "roles/pubsub.admin",
        "roles/cloudfunctions.admin",
        "roles/run.admin",
        "roles/artifactregistry.admin",
        "roles/monitoring.admin",
        "roles/logging.configWriter",
        "roles/logging.logWriter",
        "roles/iam.serviceAccountAdmin",
        "roles/iam.serviceAccountUser",
        "roles/resourcemanager.projectIamAdmin",
        "roles/serviceusage.serviceUsageAdmin",
        "roles/compute.networkAdmin",
        "roles/compute.securityAdmin",
        "roles/secretmanager.viewer",
        "roles/dataflow.developer",
    },
    # Google-managed service agents.
    "gcs_agent": {"roles/pubsub.publisher"},
    "pubsub_agent": {"roles/pubsub.publisher", "roles/pubsub.subscriber"},
    "composer_agent": {"roles/composer.ServiceAgentV2Ext"},
}
# Dataset grants are data (tables.json "writers"/"readers"); the roles they map to may appear in
# .tf text, and each account listed in tables.json is checked against its allow-list below.
DATASET_ROLES = {"writers": "roles/bigquery.dataEditor", "readers": "roles/bigquery.dataViewer"}
ALL_ALLOWED = set().union(*ALLOWED_ROLES.values(), DATASET_ROLES.values())
SERVICE_ACCOUNTS = ("composer", "dataflow", "trigger", "cloudbuild")
# How a member expression names a service agent (data source, local or e-mail domain).
AGENT_PATTERNS = {
    "gcs_agent": re.compile(r"gcs_agent|gs-project-accounts"),
    "pubsub_agent": re.compile(r"pubsub_agent|gcp-sa-pubsub"),
    "composer_agent": re.compile(r"cloudcomposer-accounts"),
}
ROLE_RE = re.compile(r"roles/[A-Za-z0-9_.]+")
TABLES_JSON = Path("plugins") / "feedline" / "contract" / "tables.json"


def principal_of(grant: dict) -> str | None:
    """Which identity a grant object ({sa|member, role}) is for, or None when it cannot tell."""
    sa = literal(grant.get("sa"))
    if sa is not None:
        return sa
    member = grant.get("member")
    if not isinstance(member, str):
        return None
    for agent, pattern in AGENT_PATTERNS.items():
        if pattern.search(member):
            return agent
    named = {m for m in re.findall(r"\b(" + "|".join(SERVICE_ACCOUNTS) + r")\b", member)}
    return named.pop() if len(named) == 1 else None


def role_string_problems(rel: Path, where: str, node: str) -> list[str]:
    """A role named anywhere in text: never basic, in some allow-list, and literal."""
    problems = []
    for role in ROLE_RE.findall(node):
        if role in BASIC_ROLES:
            problems.append(f"{rel}: {where}: basic role {role} is never granted")
        elif role not in ALL_ALLOWED:
            problems.append(f"{rel}: {where}: {role} is in no allow-list")
        elif literal(node) is None and role not in DATASET_ROLES.values():
            problems.append(
                f"{rel}: {where}: {role} inside an expression cannot be checked; "
                "write grants as literal { sa, role } objects"
            )
    return problems


def grant_problems(rel: Path, where: str, node: dict[str, Any]) -> list[str]:
    """A grant object ({sa|member, role}): its identity may hold its role."""
    role = literal(node["role"])
    if role is None:
        if node["role"] != "${each.value.role}":
            return [
                f"{rel}: {where}: role {node['role']} is computed; use a literal role or "
                "each.value.role over literal grant objects"
            ]
        return []
    principal = principal_of(node)
    if principal is None:
        return [f'{rel}: {where}: cannot tell who gets {role} (add sa = "...")']
    if principal not in ALLOWED_ROLES:
        return [f"{rel}: {where}: unknown identity {principal!r} gets {role}"]
    if role not in ALLOWED_ROLES[principal]:
        return [f"{rel}: {where}: {principal} may not hold {role}"]
    return []


def dataset_grant_problems(tables_json: Path) -> list[str]:
    """Every writer/reader of a dataset in tables.json may hold the role that grant gives."""
    if not tables_json.is_file():
        return [f"{tables_json}: missing (dataset grants are declared there)"]
    problems = []
    for role_name, spec in json.loads(tables_json.read_text())["datasets"].items():
        for kind, role in DATASET_ROLES.items():
            for sa in spec.get(kind, []):
                if role not in ALLOWED_ROLES.get(sa, set()):
                    problems.append(f"tables.json: datasets.{role_name}.{kind}: {sa} may not hold {role}")
    return problems


def iam_problems(root: Path, tables_json: Path | None = None) -> list[str]:
    """Every role granted under root (and in tables.json) is allowed for the identity it is granted to.

    Convention this enforces: a grant is an object with a literal role and either a literal
    ``sa`` (composer, dataflow, trigger, cloudbuild) or a ``member`` expression that names the
    account or service agent; IAM resources that loop take ``role = each.value.role`` from a
    list of such objects. A role that cannot be attributed is a problem, not a pass."""
    parsed, problems = parse_tree(root)
    for path, doc in parsed.items():
        rel = path.relative_to(root)
        for where, node in walk(doc, ""):
            if isinstance(node, str):
                problems += role_string_problems(rel, where, node)
            elif isinstance(node, dict) and "role" in node:
                problems += grant_problems(rel, where, node)
    return problems + dataset_grant_problems(tables_json or root.parent / TABLES_JSON)
