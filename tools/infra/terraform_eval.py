"""Terraform itself, offline: ``terraform fmt``, and the provider-free modules evaluated.

The google provider cannot be downloaded here, so ``validate`` and ``plan`` run only in Cloud
Build. The modules without providers (feed_tables, pypi_requirements) are applied in a throw-away
root with local state, and the consuming modules' variables.tf checks their outputs' shapes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from .environments import environments
from .foreach_eval import write_stub
from .iam import SERVICE_ACCOUNTS

# Modules with resources whose variables, locals and for_each/count the interface check evaluates.
STUBBED = ("service_accounts", "buckets", "bigquery", "monitoring", "composer")
# Outputs of modules/feed_tables that other modules or the checks use.
FEED_TABLES_OUTPUTS = ("datasets", "dataset_settings", "dataset_grants", "feeds", "tables", "views")


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
                **{name: f"${{module.feed_tables.{name}}}" for name in FEED_TABLES_OUTPUTS},
                "packages": "${module.pypi.packages}",
            },
            Path(tmp),
        )


def provider_free(
    root: Path, env: str, contracts_dir: Path | None = None, project_id: str = "p"
) -> dict[str, Any]:
    """Every provider-free module evaluated with one environment's real settings (its
    terraform.tfvars): feed_tables, pypi_requirements, events and composer_settings, whose
    outputs are every for_each and lookup the modules with resources use."""
    with tempfile.TemporaryDirectory(prefix="feedline-tf-") as tmp:
        modules = {
            name: args
            for name, args in consumer_modules(root, Path(tmp), contracts_dir).items()
            if name in ("feed_tables", "pypi", "events", "composer_settings")
        }
        outputs = {
            **{f"feed_tables.{o}": f"${{module.feed_tables.{o}}}" for o in FEED_TABLES_OUTPUTS},
            "pypi.packages": "${module.pypi.packages}",
            "events": "${module.events}",
            "composer_settings": "${module.composer_settings}",
        }
        folder = Path(tmp) / "root"
        write_modules_json(folder, modules, {k.replace(".", "__"): v for k, v in outputs.items()})
        for path in (root / "modules" / "platform" / "variables.tf", root / "environments" / env / "terraform.tfvars"):
            shutil.copy(path, folder / path.name)
        values = apply_root(folder, variables={"project_id": project_id, "env": env, "region": "europe-west1",
                                               "trigger_source": '{bucket="b",object="o"}'})
        return {k.replace("__", "."): v for k, v in values.items()}


def interface_problems(root: Path, contracts_dir: Path | None = None) -> list[str]:
    """Each environment's values fit the modules that consume them, with the real derived values.

    For every environment, terraform evaluates a copy of the environment root (its module call,
    env.tf, variables.tf and terraform.tfvars; not versions.tf and outputs.tf, which need
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
            (stubs / "platform").mkdir(parents=True)
            shutil.copy(root / "modules" / "platform" / "variables.tf", stubs / "platform" / "variables.tf")
            # Stand-ins with the modules' own variables, provider-free locals and every
            # for_each/count (foreach_eval.py): evaluated with the values the platform passes.
            for name in STUBBED:
                write_stub(root / "modules" / name, stubs / name)
            write_modules_json(stubs / "platform", consumer_modules(root, stubs, contracts_dir), {})
            # Same place relative to the stubs as the environment to modules/: its source resolves.
            copy = Path(tmp) / "environments" / env.name
            copy.mkdir(parents=True)
            for path in env.iterdir():
                if path.is_file() and path.name not in ("versions.tf", "outputs.tf"):
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
        "events": {"source": str(root / "modules" / "events"), "project_id": "${var.project_id}"},
        "composer_settings": {
            "source": str(root / "modules" / "composer_settings"),
            "alert_connections": "${var.settings.airflow_alert_connections}",
        },
        "service_accounts": {
            "source": str(stubs / "service_accounts"),
            "project_id": "${var.project_id}",
            "account_prefix": "fl-${var.env}",
        },
        "buckets": {
            "source": str(stubs / "buckets"),
            "project_id": "${var.project_id}",
            "location": "${var.region}",
            "name_prefix": "${var.project_id}-feedline-${var.env}",
            "members": members,
            "retention": "${var.settings.retention}",
            "labels": {"app": "feedline", "env": "${var.env}"},
        },
        "bigquery": {
            "source": str(stubs / "bigquery"),
            "project_id": "${var.project_id}",
            "location": "${var.settings.bigquery_location}",
            "datasets": "${module.feed_tables.dataset_settings}",
            "dataset_grants": "${module.feed_tables.dataset_grants}",
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
            "events": "${module.events}",
            "notification_channels": "${var.settings.notification_channels}",
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
