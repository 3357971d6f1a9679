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
    assert (bundle / "plugins" / "feedline" / "orchestrate" / "events.json").is_file()  # events.py reads it
    assert sorted(p.name for p in (bundle / "data" / "contracts").iterdir()) == sorted(
        p.name for p in (REPO / "contracts").glob("*.yaml")
    )
    for sql in (REPO / "sql").rglob("*.sql"):
        assert (bundle / "data" / "sql" / sql.relative_to(REPO / "sql")).is_file()
    assert list(bundle.rglob("__pycache__")) == [] and list(bundle.rglob("*.pyc")) == []


def test_bundle_ships_only_the_layers_composer_imports(bundle: Path):
    # validate/ runs in the Beam job's image; local/ and cli.py only on a developer machine.
    shipped = sorted(p.name for p in (bundle / "plugins" / "feedline").iterdir())
    assert shipped == ["__init__.py", "contract", "orchestrate", "settings.py", "storage"]
    for package in ("contract", "orchestrate", "storage"):
        assert sorted(p.name for p in (bundle / "plugins" / "feedline" / package).rglob("*.py")) == sorted(
            p.name for p in (REPO / "plugins" / "feedline" / package).rglob("*.py")
        )


def test_bundle_never_ships_the_example_dags(bundle: Path):
    # examples/dags (a downstream DAG scheduled on a feed's Assets) documents a pattern for the
    # environment's users; deployed, it would run against production tables.
    examples = sorted(p.name for p in (REPO / "examples" / "dags").glob("*.py"))
    assert "feedline_example_consumer.py" in examples
    assert [p.relative_to(bundle) for p in bundle.rglob("*") if p.name in examples] == []
    assert not any(src.startswith("examples") for src, _ in bundle_tool.LAYOUT)


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
    assert "example_transactions_staged" not in loaded["dag_ids"]  # examples/dags stays out
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


def test_integrity_check_loads_the_dags_as_composer_runs_them(tiny_bundle: Path):
    env = integrity.clean_env(tiny_bundle, tiny_bundle)
    assert env["FEEDLINE_RUNNER"] == "dataflow"
    assert env["PYTHONPATH"].split(":") == [str(tiny_bundle / "dags"), str(tiny_bundle / "plugins")]


COMPOSER_LACKS = [
    "apache_beam",
    "airflow.providers.apache.beam.operators.beam",
    "feedline_beam.pipeline",
    "feedline.validate.rules",
    "feedline.local.stack",
]


def test_integrity_check_refuses_what_composer_does_not_have(tiny_bundle: Path):
    # All of these are importable in the development venv (the editable install included):
    # the check must still report a DAG that imports one. One DAG file each, one DagBag load.
    for n, module in enumerate(COMPOSER_LACKS):
        (tiny_bundle / "dags" / f"needs_{n}.py").write_text(f"# airflow DAG\nimport {module}\n")
    loaded = integrity.load_bundle(tiny_bundle)
    errors = {Path(path).name: error for path, error in loaded["import_errors"].items()}
    assert sorted(errors) == sorted(f"needs_{n}.py" for n in range(len(COMPOSER_LACKS)))
    for n, module in enumerate(COMPOSER_LACKS):
        assert "not on Composer" in errors[f"needs_{n}.py"], (module, errors[f"needs_{n}.py"])
    assert loaded["dag_ids"] == ["feedline_customers"]


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


# --- Composer's PyPI packages -------------------------------------------------------------------

# In every Composer 3 image with Airflow 3: pypi_packages must not reinstall them over the build.
COMPOSER_PREINSTALLED = (
    "apache-airflow", "apache-airflow-providers-google", "apache-airflow-providers-apache-beam",
    "apache-beam", "google-cloud-bigquery", "google-cloud-storage", "pyyaml",
)


def requirement_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            pins[name.split("[")[0].strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_composer_requirements_list_only_what_the_image_lacks():
    composer = requirement_pins(REPO / "requirements.txt")
    lock = requirement_pins(REPO / "requirements-lock.txt")
    assert set(composer) == {"apache-airflow-providers-slack", "apache-airflow-providers-pagerduty"}
    assert not set(composer) & set(COMPOSER_PREINSTALLED)
    for name, version in composer.items():
        assert version and version == lock[name], name  # pinned, as the tests ran it
    # The development venv still gets the preinstalled ones, at the versions the lock tests.
    dev = requirement_pins(REPO / "requirements-dev.in")
    for name in ("apache-airflow", "apache-airflow-providers-google", "google-cloud-bigquery", "pyyaml"):
        assert dev[name] == lock[name], name
