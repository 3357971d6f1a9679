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
        "roles/logging.logWriter",  # project: Feedline's own events (orchestrate/events.py)
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
# The other direction: what each identity must hold for what Feedline's code and resources do.
# A use whose role is granted nowhere under terraform/ (or in tables.json) fails here, not at
# the first run in the cloud.
REQUIRED_ROLES: dict[str, dict[str, str]] = {
    "composer": {
        "roles/composer.worker": "runs the environment's Airflow components",
        "roles/bigquery.jobUser": "load, query and MERGE jobs (dag_factory, check_batch)",
        "roles/bigquery.dataEditor": "loads, publishes, MERGEs and refreshes (tables.json writers)",
        "roles/storage.objectUser": "claims, clears, loads and settles files (storage/claims.py)",
        "roles/dataflow.developer": "jobs.list, flexTemplates.launch, jobs.get (orchestrate/dataflow.py)",
        "roles/iam.serviceAccountUser": "launches the job as the dataflow account",
        "roles/secretmanager.secretAccessor": "reads the alert connections (secrets_backend.py)",
        "roles/logging.logWriter": "entries.write of feedline-events (orchestrate/events.py)",
    },
    "dataflow": {
        "roles/dataflow.worker": "runs the job's workers",
        "roles/storage.objectViewer": "reads the claimed landing files",
        "roles/storage.objectUser": "writes outputs, temp and staging to the work bucket",
        "roles/artifactregistry.reader": "pulls the flex template image",
    },
    "trigger": {
        "roles/composer.user": "calls the Airflow REST API (triggers/main.py)",
        "roles/run.invoker": "is the Pub/Sub push identity of the function",
    },
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


def granted_roles(parsed: dict[Path, dict], tables_json: Path) -> dict[str, set[str]]:
    """Identity -> every literal role some grant under terraform/ or tables.json gives it."""
    granted: dict[str, set[str]] = {}
    for doc in parsed.values():
        for _, node in walk(doc, ""):
            if isinstance(node, dict) and "role" in node and literal(node["role"]) is not None:
                principal = principal_of(node)
                if principal:
                    granted.setdefault(principal, set()).add(literal(node["role"]))
    if tables_json.is_file():
        for spec in json.loads(tables_json.read_text())["datasets"].values():
            for kind, role in DATASET_ROLES.items():
                for sa in spec.get(kind, []):
                    granted.setdefault(sa, set()).add(role)
    return granted


def missing_grant_problems(granted: dict[str, set[str]]) -> list[str]:
    return [
        f"{sa} needs {role} ({why}) but no grant under terraform/ gives it"
        for sa, roles in REQUIRED_ROLES.items()
        for role, why in roles.items()
        if role not in granted.get(sa, set())
    ]


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
    tables_json = tables_json or root.parent / TABLES_JSON
    return (
        problems
        + dataset_grant_problems(tables_json)
        + missing_grant_problems(granted_roles(parsed, tables_json))
    )
