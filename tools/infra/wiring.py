"""Terraform's derivation (evaluated by terraform) equals the Python derivation.

Datasets (names, settings, grants), tables, views and feeds come from the same files on both
sides (contracts/, tables.json, sql/reporting); Composer's packages are requirements.txt.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from .iam import DATASET_ROLES
from .terraform_eval import derived_layout

REPO = Path(__file__).resolve().parents[2]


def python_datasets() -> tuple[dict[str, Any], dict[str, Any]]:
    """Dataset settings and grants as the bigquery module must apply them, from tables.py."""
    from feedline.contract.tables import dataset_specs

    settings, grants = {}, {}
    for role, spec in dataset_specs().items():
        hours = spec.default_table_expiration_hours
        settings[role] = {
            "dataset_id": spec.name,
            "description": spec.description,
            "default_table_expiration_ms": None if hours is None else hours * 3_600_000,
            "expire_partitions": spec.expire_partitions,
        }
        for kind, iam_role in DATASET_ROLES.items():
            for sa in getattr(spec, kind):
                grants[f"{role} {sa} {iam_role}"] = {"dataset": role, "sa": sa, "role": iam_role}
    return settings, grants


def python_layout(contracts_dir: Path, project_id: str = "test-project") -> dict[str, Any]:
    """The same layout as the Python side derives it (feedline.contract.tables, contracts, requirements)."""
    sys.path.insert(0, str(REPO / "plugins"))
    from feedline.contract.model import load_contracts
    from feedline.contract.naming import dag_id
    from feedline.contract.tables import dataset_names, table_specs, table_stem

    tables, views, feeds = {}, {}, {}
    staging = dataset_names()["staging"]
    for feed, contract in load_contracts(contracts_dir).items():
        feeds[feed] = {"dag_id": dag_id(feed), "deadletter_threshold": contract.deadletter_threshold}
        for kind, spec in table_specs(contract).items():
            tables[f"{table_stem(feed, contract.version)}.{kind}"] = {
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
    settings, grants = python_datasets()
    return {
        "datasets": dataset_names(),
        "dataset_settings": settings,
        "dataset_grants": grants,
        "tables": tables,
        "views": views,
        "feeds": feeds,
    }


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


def dataset_problems(tf: dict[str, Any], py: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("datasets", "dataset_settings", "dataset_grants"):
        if tf[key] != py[key]:
            problems.append(f"{key}: terraform {tf[key]} != python {py[key]}")
    return problems


def table_problems(tf: dict[str, Any], py: dict[str, Any]) -> list[str]:
    problems = []
    for key in sorted(set(tf) | set(py)):
        if key not in tf or key not in py:
            problems.append(f"table {key}: only in {'python' if key in py else 'terraform'}")
            continue
        t, p = tf[key], py[key]
        for attr, expected in p.items():
            if t.get(attr) != expected:
                problems.append(f"table {key}.{attr}: terraform {t.get(attr)!r} != python {expected!r}")
        if json.loads(t["schema"]) != t["fields"]:
            problems.append(f"table {key}: schema JSON is not its fields")
    return problems


def view_problems(tf: dict[str, Any], py: dict[str, Any]) -> list[str]:
    problems = []
    for key in sorted(set(tf) | set(py)):
        if key not in tf or key not in py:
            problems.append(f"view {key}: only in {'python' if key in py else 'terraform'}")
            continue
        t, p = tf[key], py[key]
        for attr, expected in p.items():
            if attr == "from":
                if expected not in t["query"] or "{{" in t["query"]:
                    problems.append(
                        f"view {key}: query does not read {expected}...` or has unfilled placeholders"
                    )
            elif t.get(attr) != expected:
                problems.append(f"view {key}.{attr}: terraform {t.get(attr)!r} != python {expected!r}")
    return problems


def wiring_problems(root: Path, contracts_dir: Path | None = None, repo: Path = REPO) -> list[str]:
    """Terraform's derivation (evaluated by terraform) equals the Python derivation."""
    contracts_dir = contracts_dir or repo / "contracts"
    tf = derived_layout(root, contracts_dir)
    py = python_layout(contracts_dir)
    problems = dataset_problems(tf, py) + table_problems(tf["tables"], py["tables"])
    problems += view_problems(tf["views"], py["views"])
    for feed, expected in py["feeds"].items():
        got = tf["feeds"].get(feed, {})
        for attr, value in expected.items():
            if got.get(attr) != value:
                problems.append(f"feed {feed}.{attr}: terraform {got.get(attr)!r} != python {value!r}")
    expected_packages = requirements(repo / "requirements.txt")
    if tf["packages"] != expected_packages:
        problems.append(f"pypi packages: terraform {tf['packages']} != requirements.txt {expected_packages}")
    return problems
