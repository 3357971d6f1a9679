"""Offline checks of terraform/ and cloudbuild.yaml: what can be proven without a cloud account.

The google provider cannot be downloaded here, so ``terraform validate`` and ``plan`` run only in
Cloud Build. Everything else runs on any machine:

- every .tf/.tfvars file parses (python-hcl2); checkov silently passes a file it cannot parse;
- ``terraform fmt -check``;
- checkov (own venv, ``--skip-download``, skips in terraform/.checkov.yaml);
- every bucket: uniform bucket-level access, public access prevention enforced, versioning;
- every IAM grant: no basic role, no authoritative binding/policy, each role in the allow-list
  of the service account (or service agent) it is granted to;
- every alert policy has notification channels;
- every environment is a thin root: backend, provider, one call of modules/platform (where the
  modules are composed, once), its name (env.tf) and settings (terraform.tfvars), and nothing else;
- the provider-free modules, evaluated by terraform itself, give exactly the tables, views and
  packages the Python side derives (feedline.contract.tables, contracts, requirements.txt), and their
  outputs and each environment's settings, passed through its own module call, fit the variables
  of the modules that consume them;
- cloudbuild.yaml validates against the Cloud Build schema, every step has an id and an explicit
  waitFor naming earlier steps, and every $_SUBSTITUTION is declared (and every declared one used).

Each check returns a list of problems (empty = pass), so tests/infra can run it on the real tree
and on broken copies. ``python tools/infra_check.py`` runs them all (``make infra-check``).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CHECKOV_VERSION = "3.3.30"
BASIC_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}

# What each identity may hold, and why. A grant outside its list fails the check.
ALLOWED_ROLES: dict[str, set[str]] = {
    "composer": {
        "roles/composer.worker",  # project: runs the environment's workloads
        "roles/bigquery.jobUser",  # project: load, query and MERGE jobs
        "roles/dataflow.developer",  # project: launch and watch flex template jobs
        "roles/bigquery.dataEditor",  # dataset: raw, staging, reporting, ops
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
ALL_ALLOWED = set().union(*ALLOWED_ROLES.values())
SERVICE_ACCOUNTS = ("composer", "dataflow", "trigger", "cloudbuild")
# How a member expression names a service agent (data source, local or e-mail domain).
AGENT_PATTERNS = {
    "gcs_agent": re.compile(r"gcs_agent|gs-project-accounts"),
    "pubsub_agent": re.compile(r"pubsub_agent|gcp-sa-pubsub"),
    "composer_agent": re.compile(r"cloudcomposer-accounts"),
}
ROLE_RE = re.compile(r"roles/[A-Za-z0-9_.]+")

# An environment is a thin root: these files, and in them only what a root must hold.
ENV_FILES = ("versions.tf", "main.tf", "variables.tf", "outputs.tf", "env.tf", "terraform.tfvars")
# moved.tf (optional): the link to environments/moved.tf, the state migration into module.platform.
ENV_OPTIONAL_FILES = ("moved.tf", ".terraform.lock.hcl")
PLATFORM_SOURCE = "../../modules/platform"
# Top-level blocks an environment may have (resources, data sources, other modules: platform's).
ENV_BLOCKS = {"terraform", "provider", "variable", "output", "locals", "module", "moved"}


# --- HCL helpers ------------------------------------------------------------------------------


def hcl_files(root: Path) -> list[Path]:
    return sorted(
        p for pattern in ("*.tf", "*.tfvars") for p in root.rglob(pattern) if ".terraform" not in p.parts
    )


def parse_tree(root: Path) -> tuple[dict[Path, dict], list[str]]:
    """Every HCL file under root, parsed; problems name the files that do not parse."""
    import hcl2

    parsed, problems = {}, []
    for path in hcl_files(root):
        try:
            with path.open(encoding="utf-8") as f:
                parsed[path] = hcl2.load(f)
        except Exception as exc:  # noqa: BLE001 - any parser error is a finding
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            problems.append(f"{path.relative_to(root)}: does not parse: {first_line}")
    if not parsed and not problems:
        problems.append(f"{root}: no .tf files")
    return parsed, problems


def literal(value: Any) -> Any:
    """The value of an HCL literal as python-hcl2 returns it, or None for an expression.

    Strings come back quoted ('"enforced"'); expressions as '${...}' or as a quoted template."""
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"' and "${" not in value:
        return value[1:-1]
    return None


def unquote(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == '"' else key


def resources(parsed: dict[Path, dict]) -> Iterator[tuple[Path, str, str, dict]]:
    """(file, type, name, body) of every resource block."""
    for path, doc in parsed.items():
        for block in doc.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    yield path, unquote(rtype), unquote(name), body


def walk(value: Any, where: str) -> Iterator[tuple[str, Any]]:
    """Every (location, node) below value, depth first."""
    yield where, value
    if isinstance(value, dict):
        for key, child in value.items():
            if key != "__is_block__":
                yield from walk(child, f"{where}.{unquote(key)}")
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from walk(child, f"{where}[{i}]")


def block(body: dict, name: str) -> dict | None:
    blocks = body.get(name)
    return blocks[0] if isinstance(blocks, list) and blocks and isinstance(blocks[0], dict) else None


# --- Terraform checks -------------------------------------------------------------------------


def parse_problems(root: Path) -> list[str]:
    return parse_tree(root)[1]


def bucket_problems(root: Path) -> list[str]:
    """Every google_storage_bucket: uniform access, public access prevention, versioning."""
    parsed, problems = parse_tree(root)
    found = False
    for path, rtype, name, body in resources(parsed):
        if rtype != "google_storage_bucket":
            continue
        found = True
        where = f"{path.relative_to(root)}: google_storage_bucket.{name}"
        if literal(body.get("uniform_bucket_level_access")) is not True:
            problems.append(f"{where}: uniform_bucket_level_access must be true")
        if literal(body.get("public_access_prevention")) != "enforced":
            problems.append(f'{where}: public_access_prevention must be "enforced"')
        versioning = block(body, "versioning")
        if versioning is None or literal(versioning.get("enabled")) is not True:
            problems.append(f"{where}: versioning must be enabled")
    if not found:
        problems.append(f"{root}: no google_storage_bucket found")
    return problems


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


def iam_problems(root: Path) -> list[str]:
    """Every role granted under root is allowed for the identity it is granted to.

    Convention this enforces: a grant is an object with a literal role and either a literal
    ``sa`` (composer, dataflow, trigger, cloudbuild) or a ``member`` expression that names the
    account or service agent; IAM resources that loop take ``role = each.value.role`` from a
    list of such objects. A role that cannot be attributed is a problem, not a pass."""
    parsed, problems = parse_tree(root)
    for path, rtype, name, _ in resources(parsed):
        if re.search(r"_iam_(binding|policy)$", rtype):
            problems.append(
                f"{path.relative_to(root)}: {rtype}.{name}: authoritative IAM resource; "
                "use *_iam_member so grants made elsewhere survive"
            )
    for path, doc in parsed.items():
        rel = path.relative_to(root)
        for where, node in walk(doc, ""):
            if isinstance(node, str):
                for role in ROLE_RE.findall(node):
                    if role in BASIC_ROLES:
                        problems.append(f"{rel}: {where}: basic role {role} is never granted")
                    elif role not in ALL_ALLOWED:
                        problems.append(f"{rel}: {where}: {role} is in no allow-list")
                    elif literal(node) is None:
                        problems.append(
                            f"{rel}: {where}: {role} inside an expression cannot be checked; "
                            "write grants as literal { sa, role } objects"
                        )
            if not (isinstance(node, dict) and "role" in node):
                continue
            role = literal(node["role"])
            if role is None:
                if node["role"] != "${each.value.role}":
                    problems.append(
                        f"{rel}: {where}: role {node['role']} is computed; use a literal role or "
                        "each.value.role over literal grant objects"
                    )
                continue
            principal = principal_of(node)
            if principal is None:
                problems.append(f'{rel}: {where}: cannot tell who gets {role} (add sa = "...")')
            elif principal not in ALLOWED_ROLES:
                problems.append(f"{rel}: {where}: unknown identity {principal!r} gets {role}")
            elif role not in ALLOWED_ROLES[principal]:
                problems.append(f"{rel}: {where}: {principal} may not hold {role}")
    return problems


def alert_problems(root: Path) -> list[str]:
    """Every alert policy notifies someone."""
    parsed, problems = parse_tree(root)
    found = False
    for path, rtype, name, body in resources(parsed):
        if rtype != "google_monitoring_alert_policy":
            continue
        found = True
        channels = body.get("notification_channels")
        if channels in (None, [], "${[]}", "${null}") or literal(channels) == "":
            problems.append(
                f"{path.relative_to(root)}: google_monitoring_alert_policy.{name}: no notification_channels"
            )
    if not found:
        problems.append(f"{root}: no google_monitoring_alert_policy found")
    return problems


def environments(root: Path) -> list[Path]:
    folder = root / "environments"
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def environment_problems(root: Path) -> list[str]:
    """Every environment is a thin root: it calls modules/platform once and does nothing else.

    The composition lives in modules/platform only, so it cannot drift between environments: an
    environment may configure the backend and provider, declare variables and outputs, name itself
    (locals in env.tf) and call the platform module once; no resource, data source, other module,
    extra file or second module call. moved blocks (the state migration) may only move into
    module.platform."""
    envs = environments(root)
    problems = []
    if not {"dev", "prod"} <= {p.name for p in envs}:
        problems.append(f"{root / 'environments'}: needs dev and prod, found {[p.name for p in envs]}")
    if not (root / "modules" / "platform" / "main.tf").is_file():
        problems.append("modules/platform/main.tf is missing")
    for env in envs:
        where = f"environments/{env.name}"
        for name in ENV_FILES:
            if not (env / name).is_file():
                problems.append(f"{where}: {name} is missing")
        for path in sorted(env.iterdir()):
            if path.is_file() and path.name not in (*ENV_FILES, *ENV_OPTIONAL_FILES):
                problems.append(f"{where}: {path.name}: an environment holds only {', '.join(ENV_FILES)}")
        parsed, parse_errors = parse_tree(env)
        problems += [f"{where}/{p}" for p in parse_errors]
        calls = []
        for path, doc in parsed.items():
            rel = f"{where}/{path.name}"
            if path.suffix == ".tfvars":
                continue
            for kind, blocks in doc.items():
                if kind.startswith("__"):  # python-hcl2's __comments__ and the like
                    continue
                if kind not in ENV_BLOCKS:
                    problems.append(f"{rel}: {kind} blocks belong in modules/platform, not in an environment")
                elif kind == "module":
                    for named in blocks:
                        for name, body in named.items():
                            calls.append((rel, unquote(name), literal(body.get("source"))))
                elif kind == "moved":
                    for move in blocks:
                        if not str(move.get("to", "")).startswith("${module.platform."):
                            problems.append(f"{rel}: moved to {move.get('to')}: only into module.platform")
                elif kind == "locals" and path.name != "env.tf":
                    problems.append(
                        f"{rel}: locals belong in env.tf (the environment's name) or modules/platform"
                    )
        for rel, name, source in calls:
            if name != "platform" or source != PLATFORM_SOURCE:
                problems.append(
                    f'{rel}: module "{name}" (source {source}): an environment calls only '
                    f'module "platform" (source {PLATFORM_SOURCE}); compose modules in modules/platform'
                )
        if sum(1 for _, name, source in calls if (name, source) == ("platform", PLATFORM_SOURCE)) != 1:
            problems.append(f'{where}: needs exactly one module "platform" call (source {PLATFORM_SOURCE})')
    return problems


def terraform_env() -> dict[str, str]:
    """Environment for the terraform CLI: no update checks, no user CLI config, no prompts."""
    env = dict(os.environ)
    config = Path(tempfile.gettempdir()) / "feedline-terraformrc"
    config.touch()
    env.update(TF_CLI_CONFIG_FILE=str(config), CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1", TF_INPUT="0")
    return env


def terraform_bin() -> str:
    found = shutil.which("terraform")
    if not found:
        raise FileNotFoundError("terraform is not on PATH (terraform 1.11 is needed for the offline checks)")
    return found


def fmt_problems(root: Path) -> list[str]:
    result = subprocess.run(
        [terraform_bin(), "fmt", "-check", "-recursive", "-list=true", "-no-color", str(root)],
        capture_output=True,
        text=True,
        env=terraform_env(),
        check=False,
    )
    if result.returncode == 0:
        return []
    problems = [
        f"{line}: not formatted (run terraform fmt -recursive terraform)" for line in result.stdout.split()
    ]
    if result.stderr.strip():
        problems.append(f"terraform fmt: {result.stderr.strip().splitlines()[0]}")
    return problems or [f"terraform fmt -check exited {result.returncode}"]


# --- checkov ----------------------------------------------------------------------------------


def checkov_bin(repo: Path = REPO) -> Path:
    """checkov in its own venv (.venv-checkov): it pins old packaging/networkx versions that
    clash with the project's venv. Created on first use, under a lock (parallel CI steps)."""
    venv = repo / ".venv-checkov"
    binary = venv / "bin" / "checkov"
    (repo / "build").mkdir(exist_ok=True)
    with open(repo / "build" / ".venv-checkov.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            base = shutil.which("python3.11") or shutil.which("python3") or sys.executable
            subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run(
                [
                    str(venv / "bin" / "pip"),
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    f"checkov=={CHECKOV_VERSION}",
                ],
                check=True,
            )
    return binary


def run_checkov(root: Path, config: Path | None = None, repo: Path = REPO) -> dict[str, Any]:
    """checkov's JSON report of root (one framework: terraform)."""
    config = config or root / ".checkov.yaml"
    result = subprocess.run(
        [
            str(checkov_bin(repo)),
            "-d",
            str(root),
            "--config-file",
            str(config),
            "--skip-download",
            "--framework",
            "terraform",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        return {"error": f"checkov exited {result.returncode} without a JSON report: {result.stderr[-500:]}"}
    if isinstance(report, list):  # one entry per framework
        report = next((r for r in report if r.get("check_type") == "terraform"), report[0])
    if "summary" not in report:  # no resources at all comes back as a bare summary
        return {"error": f"checkov found nothing to check in {root}: {report}"}
    return report


def checkov_problems(report: dict[str, Any]) -> list[str]:
    if "error" in report:
        return [report["error"]]
    problems = [
        f"{f['check_id']} {f['check_name']}: {f['resource']} ({f['file_path']})"
        for f in report["results"].get("failed_checks", [])
    ]
    if report["summary"].get("parsing_errors"):
        problems.append(f"checkov could not parse {report['summary']['parsing_errors']} file(s)")
    return problems


def checkov_skip_problems(root: Path) -> list[str]:
    """Every check skipped in .checkov.yaml is explained in terraform/README.md."""
    import yaml

    config = yaml.safe_load((root / ".checkov.yaml").read_text()) or {}
    readme = (root / "README.md").read_text() if (root / "README.md").is_file() else ""
    problems = []
    for check in config.get("skip-check", []):
        line = next((ln for ln in readme.splitlines() if check in ln), None)
        if line is None or len(line.replace(check, "").strip(" |`-*")) < 20:
            problems.append(f"{check} is skipped in .checkov.yaml but has no reason in README.md")
    return problems


# --- Evaluating the provider-free modules -------------------------------------------------------


def write_modules_json(folder: Path, modules: dict[str, dict[str, Any]], outputs: dict[str, str]) -> None:
    """folder/main.tf.json calling the given modules (absolute sources made relative)."""
    folder.mkdir(parents=True, exist_ok=True)
    module_blocks = {}
    for name, args in modules.items():
        source = os.path.relpath(args["source"], folder)
        module_blocks[name] = {**args, "source": source if source.startswith("..") else f"./{source}"}
    config: dict[str, Any] = {"module": module_blocks}
    if outputs:
        config["output"] = {name: {"value": expr} for name, expr in outputs.items()}
    (folder / "main.tf.json").write_text(json.dumps(config, indent=2))


def apply_root(root: Path, variables: dict[str, str] | None = None) -> dict[str, Any]:
    """init (no backend) + apply with local state in root, and its outputs. Works offline as long
    as nothing in root needs a provider."""
    var_args = [f"-var={name}={value}" for name, value in (variables or {}).items()]
    env = terraform_env()
    for args in (["init", "-backend=false"], ["apply", "-auto-approve", "-lock=false", *var_args]):
        result = subprocess.run(
            [terraform_bin(), f"-chdir={root}", *args, "-input=false", "-no-color"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"terraform {args[0]} failed:\n{(result.stderr or result.stdout)[-4000:]}")
    result = subprocess.run(
        [terraform_bin(), f"-chdir={root}", "output", "-json", "-no-color"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return {name: out["value"] for name, out in json.loads(result.stdout).items()}


def evaluate(modules: dict[str, dict[str, Any]], outputs: dict[str, str], workdir: Path) -> dict[str, Any]:
    """Run terraform on a throw-away root that calls the given modules and return its outputs.

    modules: name -> {"source": absolute module dir, **arguments (JSON values or "${...}")}."""
    root = workdir / "root"
    write_modules_json(root, modules, outputs)
    return apply_root(root)


def derived_layout(
    root: Path, contracts_dir: Path | None = None, project_id: str = "test-project"
) -> dict[str, Any]:
    """Outputs of modules/feed_tables (and pypi_requirements) as terraform computes them."""
    feed_tables: dict[str, Any] = {"source": str(root / "modules" / "feed_tables"), "project_id": project_id}
    if contracts_dir is not None:
        feed_tables["contracts_dir"] = str(contracts_dir)
    with tempfile.TemporaryDirectory(prefix="feedline-tf-") as tmp:
        return evaluate(
            {"feed_tables": feed_tables, "pypi": {"source": str(root / "modules" / "pypi_requirements")}},
            {
                "datasets": "${module.feed_tables.datasets}",
                "feeds": "${module.feed_tables.feeds}",
                "tables": "${module.feed_tables.tables}",
                "views": "${module.feed_tables.views}",
                "packages": "${module.pypi.packages}",
            },
            Path(tmp),
        )


def interface_problems(root: Path, contracts_dir: Path | None = None) -> list[str]:
    """Each environment's values fit the modules that consume them, with the real derived values.

    For every environment, terraform evaluates a copy of the environment root (its module call,
    env.tf, variables.tf and terraform.tfvars; not versions.tf, outputs.tf and moved.tf, which need
    the provider and the real module) against a stand-in for modules/platform: the real
    modules/platform/variables.tf, and a main.tf that passes those variables and the outputs of the
    provider-free modules to copies of the consuming modules' variables.tf (the modules themselves
    need the google provider). So a tfvars value of the wrong shape, a module call the platform
    does not accept, or a derived value a module cannot take fails here."""
    problems = []
    for env in environments(root):
        if not (env / "main.tf").is_file():
            continue
        with tempfile.TemporaryDirectory(prefix="feedline-tf-") as tmp:
            stubs = Path(tmp) / "modules"
            for name in ("bigquery", "monitoring", "composer", "platform"):
                (stubs / name).mkdir(parents=True)
                shutil.copy(root / "modules" / name / "variables.tf", stubs / name / "variables.tf")
            write_modules_json(stubs / "platform", consumer_modules(root, stubs, contracts_dir), {})
            # Same place relative to the stubs as the environment to modules/: its source resolves.
            copy = Path(tmp) / "environments" / env.name
            copy.mkdir(parents=True)
            for path in env.iterdir():
                if path.is_file() and path.name not in ("versions.tf", "outputs.tf", "moved.tf"):
                    shutil.copy(path, copy / path.name)
            try:
                apply_root(
                    copy,
                    variables={
                        "project_id": "p",
                        "region": "europe-west1",
                        "trigger_source_bucket": "b",
                        "trigger_source_object": "o",
                    },
                )
            except RuntimeError as exc:
                problems.append(f"environments/{env.name}: values do not fit the modules' variables: {exc}")
    return problems


def consumer_modules(root: Path, stubs: Path, contracts_dir: Path | None) -> dict[str, dict[str, Any]]:
    """The module calls of modules/platform/main.tf that take derived values or settings, with the
    same arguments where those come from its variables (resource attributes are stand-ins)."""
    feed_tables: dict[str, Any] = {
        "source": str(root / "modules" / "feed_tables"),
        "project_id": "${var.project_id}",
    }
    if contracts_dir is not None:
        feed_tables["contracts_dir"] = str(contracts_dir)
    members = {sa: f"serviceAccount:{sa}@p.iam.gserviceaccount.com" for sa in SERVICE_ACCOUNTS}
    return {
        "feed_tables": feed_tables,
        "pypi": {"source": str(root / "modules" / "pypi_requirements")},
        "bigquery": {
            "source": str(stubs / "bigquery"),
            "project_id": "${var.project_id}",
            "location": "${var.settings.bigquery_location}",
            "datasets": "${module.feed_tables.datasets}",
            "tables": "${module.feed_tables.tables}",
            "views": "${module.feed_tables.views}",
            "members": members,
            "raw_partition_expiration_days": "${var.settings.raw_partition_expiration_days}",
            "deletion_protection": "${var.settings.deletion_protection}",
        },
        "monitoring": {
            "source": str(stubs / "monitoring"),
            "project_id": "${var.project_id}",
            "env": "${var.env}",
            "composer_environment": "feedline-${var.env}",
            "feeds": "${module.feed_tables.feeds}",
            "slack": "${var.settings.slack}",
            "pagerduty_service_key_secret": "${var.settings.pagerduty_service_key_secret}",
        },
        "composer": {
            "source": str(stubs / "composer"),
            "project_id": "${var.project_id}",
            "region": "${var.region}",
            "name": "feedline-${var.env}",
            "image_version": "${var.settings.composer.image_version}",
            "environment_size": "${var.settings.composer.environment_size}",
            "resilience_mode": "${var.settings.composer.resilience_mode}",
            "workloads": "${var.settings.composer.workloads}",
            "service_account_email": "composer@p.iam.gserviceaccount.com",
            "members": members,
            "pypi_packages": "${module.pypi.packages}",
            "alert_connections": "${var.settings.airflow_alert_connections}",
            "feedline": {
                "env": "${var.env}",
                "bq_location": "${var.settings.bigquery_location}",
                "landing_bucket": "l",
                "archive_bucket": "a",
                "quarantine_bucket": "q",
                "work_bucket": "w",
                "dataflow_service_account": "df@p",
                "dataflow_subnetwork": "regions/europe-west1/subnetworks/s",
            },
        },
    }


def python_layout(contracts_dir: Path, project_id: str = "test-project") -> dict[str, Any]:
    """The same layout as the Python side derives it (feedline.contract.tables, contracts, requirements)."""
    sys.path.insert(0, str(REPO / "plugins"))
    from feedline.contract.model import load_contracts
    from feedline.contract.naming import dag_id
    from feedline.contract.tables import dataset_names, table_specs

    tables, views, feeds = {}, {}, {}
    staging = dataset_names()["staging"]
    for feed, contract in load_contracts(contracts_dir).items():
        feeds[feed] = {"dag_id": dag_id(feed), "deadletter_threshold": contract.deadletter_threshold}
        for kind, spec in table_specs(contract).items():
            tables[f"{feed}.{kind}"] = {
                "dataset_id": spec.dataset,
                "table_id": spec.name,
                "fields": [dict(f) for f in spec.fields],
                "partition_field": spec.partition_field,
                "partition_type": spec.partition_type,
                "cluster_by": list(spec.cluster_by),
            }
        for view in contract.reporting:
            views[f"{feed}.{view.name}"] = {
                "dataset_id": dataset_names()["reporting"],
                "table_id": view.name,
                "partition_field": view.partition_by,
                "cluster_by": list(view.cluster_by),
                "refresh_interval_ms": view.refresh_interval_minutes * 60_000,
                "from": f"`{project_id}.{staging}.",
            }
    return {"datasets": dataset_names(), "tables": tables, "views": views, "feeds": feeds}


def requirements(path: Path) -> dict[str, str]:
    """requirements.txt as Composer's pypi_packages map (name -> extras + specifier)."""
    packages = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, extras, spec = re.match(
                r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$", line
            ).groups()
            packages[name.lower()] = f"{extras or ''}{spec}".replace(" ", "").lower()
    return packages


def wiring_problems(root: Path, contracts_dir: Path | None = None, repo: Path = REPO) -> list[str]:
    """Terraform's derivation (evaluated by terraform) equals the Python derivation."""
    contracts_dir = contracts_dir or repo / "contracts"
    tf = derived_layout(root, contracts_dir)
    py = python_layout(contracts_dir)
    problems = []
    if tf["datasets"] != py["datasets"]:
        problems.append(f"datasets: terraform {tf['datasets']} != python {py['datasets']}")
    for key in sorted(set(tf["tables"]) | set(py["tables"])):
        if key not in tf["tables"] or key not in py["tables"]:
            problems.append(f"table {key}: only in {'python' if key in py['tables'] else 'terraform'}")
            continue
        t, p = tf["tables"][key], py["tables"][key]
        for attr, expected in p.items():
            if t.get(attr) != expected:
                problems.append(f"table {key}.{attr}: terraform {t.get(attr)!r} != python {expected!r}")
        if json.loads(t["schema"]) != t["fields"]:
            problems.append(f"table {key}: schema JSON is not its fields")
    for key in sorted(set(tf["views"]) | set(py["views"])):
        if key not in tf["views"] or key not in py["views"]:
            problems.append(f"view {key}: only in {'python' if key in py['views'] else 'terraform'}")
            continue
        t, p = tf["views"][key], py["views"][key]
        for attr, expected in p.items():
            if attr == "from":
                if expected not in t["query"] or "{{" in t["query"]:
                    problems.append(
                        f"view {key}: query does not read {expected}...` or has unfilled placeholders"
                    )
            elif t.get(attr) != expected:
                problems.append(f"view {key}.{attr}: terraform {t.get(attr)!r} != python {expected!r}")
    for feed, expected in py["feeds"].items():
        got = tf["feeds"].get(feed, {})
        for attr, value in expected.items():
            if got.get(attr) != value:
                problems.append(f"feed {feed}.{attr}: terraform {got.get(attr)!r} != python {value!r}")
    expected_packages = requirements(repo / "requirements.txt")
    if tf["packages"] != expected_packages:
        problems.append(f"pypi packages: terraform {tf['packages']} != requirements.txt {expected_packages}")
    return problems


# --- cloudbuild.yaml --------------------------------------------------------------------------

# Substitutions Cloud Build provides (the _-prefixed ones come with pull-request triggers).
BUILTIN_SUBSTITUTIONS = {
    "PROJECT_ID",
    "PROJECT_NUMBER",
    "BUILD_ID",
    "LOCATION",
    "TRIGGER_NAME",
    "TRIGGER_BUILD_CONFIG_PATH",
    "COMMIT_SHA",
    "SHORT_SHA",
    "REVISION_ID",
    "REPO_NAME",
    "REPO_FULL_NAME",
    "BRANCH_NAME",
    "TAG_NAME",
    "REF_NAME",
    "SERVICE_ACCOUNT_EMAIL",
    "SERVICE_ACCOUNT",
    "_HEAD_BRANCH",
    "_BASE_BRANCH",
    "_HEAD_REPO_URL",
    "_PR_NUMBER",
}
SUBST_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def substitution_refs(text: str) -> tuple[set[str], list[str]]:
    """Substitutions a string uses, and unescaped '$' that Cloud Build would reject ('$$' = '$')."""
    refs, bad, i = set(), [], 0
    while i < len(text):
        if text[i] != "$":
            i += 1
        elif text.startswith("$$", i):
            i += 2
        elif match := SUBST_RE.match(text, i):
            refs.add(match.group(1) or match.group(2))
            i = match.end()
        else:
            bad.append(text[i : i + 12])
            i += 1
    return refs, bad


def strings_in(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from strings_in(child, f"{where}.{key}")
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from strings_in(child, f"{where}[{i}]")


def cloudbuild_problems(path: Path) -> list[str]:
    import yaml

    if not path.is_file():
        return [f"{path}: missing"]
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        return [f"{path.name}: not YAML: {exc}"]
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list):
        return [f"{path.name}: no steps"]
    problems: list[str] = []
    seen: set[str] = set()
    for i, step in enumerate(doc["steps"]):
        step_id = step.get("id")
        label = f"steps[{i}] ({step_id or step.get('name')})"
        if not step_id:
            problems.append(f"{label}: has no id")
        elif step_id in seen:
            problems.append(f"{label}: id {step_id!r} is used twice")
        wait_for = step.get("waitFor")
        if not isinstance(wait_for, list) or not wait_for:
            problems.append(f"{label}: needs an explicit waitFor (['-'] to start at once)")
        else:
            if "-" in wait_for and len(wait_for) > 1:
                problems.append(f"{label}: waitFor '-' cannot be combined with step ids")
            for dep in wait_for:
                if dep != "-" and dep not in seen:
                    problems.append(f"{label}: waitFor {dep!r} is not the id of an earlier step")
        if step_id:
            seen.add(step_id)
    declared = doc.get("substitutions") or {}
    for name in declared:
        if not str(name).startswith("_"):
            problems.append(f"substitutions.{name}: user substitutions must start with '_'")
    used: set[str] = set()
    for where, text in strings_in(doc):
        refs, bad = substitution_refs(text)
        used |= refs
        for fragment in bad:
            problems.append(f"{where}: unescaped '$' in {fragment!r} (write $$ for a shell '$')")
        for ref in refs:
            if ref not in declared and ref not in BUILTIN_SUBSTITUTIONS:
                problems.append(f"{where}: ${ref} is neither declared in substitutions nor built in")
    loose = (doc.get("options") or {}).get("substitutionOption") == "ALLOW_LOOSE"
    if not loose:
        for name in declared:
            if name not in used:
                problems.append(f"substitutions.{name}: declared but never used (Cloud Build rejects that)")
    return problems


def cloudbuild_schema_problems(path: Path) -> list[str]:
    if not path.is_file():
        return [f"{path}: missing"]
    tool = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [
            str(tool if tool.exists() else "check-jsonschema"),
            "--builtin-schema",
            "vendor.cloudbuild",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode == 0:
        return []
    return [
        f"{path.name}: Cloud Build schema: {line.strip()}"
        for line in result.stdout.splitlines()[1:]
        if line.strip()
    ] or [f"{path.name}: check-jsonschema exited {result.returncode}: {result.stdout}{result.stderr}"]


# --- CLI ----------------------------------------------------------------------------------------


def all_problems(repo: Path = REPO, with_checkov: bool = True) -> dict[str, list[str]]:
    root = repo / "terraform"
    results = {
        "parse": parse_problems(root),
        "fmt": fmt_problems(root),
        "buckets": bucket_problems(root),
        "iam": iam_problems(root),
        "alerts": alert_problems(root),
        "environments": environment_problems(root),
        "wiring": wiring_problems(root, repo=repo),
        "interfaces": interface_problems(root),
        "cloudbuild schema": cloudbuild_schema_problems(repo / "cloudbuild.yaml"),
        "cloudbuild steps": cloudbuild_problems(repo / "cloudbuild.yaml"),
        "checkov skips": checkov_skip_problems(root),
    }
    if with_checkov:
        results["checkov"] = checkov_problems(run_checkov(root, repo=repo))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", type=Path, default=REPO)
    parser.add_argument("--skip-checkov", action="store_true", help="skip the checkov scan")
    args = parser.parse_args(argv)
    failed = 0
    for name, problems in all_problems(args.repo.resolve(), not args.skip_checkov).items():
        print(f"{'ok  ' if not problems else 'FAIL'} {name}")
        for problem in problems:
            print(f"     {problem}")
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
