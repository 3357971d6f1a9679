"""The Composer bundle (tools/bundle.py): its layout, and every DAG loading from it alone."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .infra_tools import load_tool

from feedline.settings import REPO_ROOT as REPO

bundle_tool = load_tool("bundle")
integrity = load_tool("dag_integrity")
trigger_archive = load_tool("trigger_archive")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "bundle"
    bundle_tool.build_bundle(out)
    return out


def test_bundle_has_composers_layout(bundle: Path):
    assert sorted(p.name for p in bundle.iterdir()) == ["dags", "data", "plugins"]
    assert [p.name for p in (bundle / "plugins").iterdir()] == ["feedline"]
    assert (bundle / "plugins" / "feedline" / "__init__.py").is_file()
    assert (bundle / "plugins" / "feedline" / "contract" / "tables.json").is_file()
    assert sorted(p.name for p in (bundle / "data" / "contracts").iterdir()) == sorted(
        p.name for p in (REPO / "contracts").glob("*.yaml")
    )
    for sql in (REPO / "sql").rglob("*.sql"):
        assert (bundle / "data" / "sql" / sql.relative_to(REPO / "sql")).is_file()
    assert list(bundle.rglob("__pycache__")) == [] and list(bundle.rglob("*.pyc")) == []


def test_bundle_is_rebuilt_from_scratch(bundle: Path, tmp_path: Path):
    out = tmp_path / "b"
    bundle_tool.build_bundle(out)
    (out / "dags" / "deleted_from_repo.py").write_text("x = 1\n")
    bundle_tool.build_bundle(out)
    assert not (out / "dags" / "deleted_from_repo.py").exists()


def test_make_bundle_builds_the_bundle(tmp_path: Path):
    # BUNDLE_DIR: never rebuild build/bundle under a CI step that is reading it.
    out = tmp_path / "made"
    result = subprocess.run(
        ["make", "-s", "bundle", f"BUNDLE_DIR={out}"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert (out / "plugins" / "feedline" / "__init__.py").is_file()
    assert "bundle.py --out $(BUNDLE_DIR)" in (REPO / "Makefile").read_text()
    assert "BUNDLE_DIR ?= build/bundle" in (REPO / "Makefile").read_text()


def test_every_dag_loads_from_the_bundle_alone(bundle: Path):
    """Composer's view: PYTHONPATH = bundle/dags + bundle/plugins, data from bundle/data only.

    One DAG per contract, dag_id feedline_<feed>, no import errors."""
    assert integrity.integrity_problems(bundle) == []
    loaded = integrity.load_bundle(bundle)
    assert {d for d in loaded["dag_ids"] if d.startswith("feedline_")} == integrity.expected_dag_ids(bundle)
    assert Path(loaded["feedline_origin"]).is_relative_to(bundle)


# --- the integrity check can fail ---------------------------------------------------------------

TINY_DAG = """
from datetime import datetime
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("feedline_customers", start_date=datetime(2024, 1, 1), schedule=None):
    EmptyOperator(task_id="noop")
"""


@pytest.fixture
def tiny_bundle(tmp_path: Path) -> Path:
    """A bundle with one hand-written DAG (feedline_customers) and the real contracts."""
    out = tmp_path / "tiny"
    (out / "dags").mkdir(parents=True)
    (out / "plugins").mkdir()
    shutil.copytree(REPO / "contracts", out / "data" / "contracts")
    (out / "data" / "sql").mkdir()
    (out / "dags" / "tiny.py").write_text(TINY_DAG)
    return out


def test_integrity_check_reports_a_contract_without_its_dag(tiny_bundle: Path):
    assert integrity.integrity_problems(tiny_bundle) == [
        "no DAG feedline_transactions (contract data/contracts/transactions)"
    ]


def test_integrity_check_reports_import_errors(tiny_bundle: Path):
    (tiny_bundle / "dags" / "broken.py").write_text(
        "import feedline_module_that_does_not_exist\nfrom airflow.sdk import DAG\n"
    )
    problems = integrity.integrity_problems(tiny_bundle)
    assert any(
        p.startswith("import error in") and "feedline_module_that_does_not_exist" in p for p in problems
    )


def test_integrity_check_reports_code_imported_from_outside_the_bundle(tiny_bundle: Path):
    # No feedline package in the bundle: the import must not quietly come from the checkout.
    # (the words airflow and DAG make the DagBag parse the file: its safe mode skips others)
    (tiny_bundle / "dags" / "uses_feedline.py").write_text("# airflow DAG\nimport feedline.contract.model\n")
    problems = integrity.integrity_problems(tiny_bundle)
    assert any("not from the bundle" in p or "import error" in p for p in problems), problems


def test_integrity_check_reports_a_dag_without_contract(tiny_bundle: Path):
    (tiny_bundle / "data" / "contracts" / "transactions.yaml").unlink()
    (tiny_bundle / "data" / "contracts" / "customers.yaml").rename(
        tiny_bundle / "data" / "contracts" / "c.yaml"
    )
    (tiny_bundle / "data" / "contracts" / "c.yaml").write_text(
        (tiny_bundle / "data" / "contracts" / "c.yaml")
        .read_text()
        .replace("feed: customers", "feed: clients")
    )
    assert integrity.integrity_problems(tiny_bundle) == [
        "no DAG feedline_clients (contract data/contracts/clients)",
        "DAG feedline_customers has no contract in data/contracts",
    ]


# --- function source archive --------------------------------------------------------------------


def test_trigger_archive_name_follows_content_only(tmp_path: Path):
    source = tmp_path / "triggers"
    source.mkdir()
    (source / "main.py").write_text("def on_landing_event(event):\n    pass\n")
    (source / "requirements.txt").write_text("functions-framework\n")
    first = trigger_archive.build_archive(source, tmp_path / "a.zip")
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"x")
    assert trigger_archive.build_archive(source, tmp_path / "b.zip") == first
    (source / "main.py").write_text("def on_landing_event(event):\n    return 1\n")
    second = trigger_archive.build_archive(source, tmp_path / "c.zip")
    assert second != first and second.startswith("triggers/feedline-trigger-") and second.endswith(".zip")
