"""Terraform derives the same tables as Python, from the same files, for any number of feeds.

terraform/modules/feed_tables has no providers, so terraform itself evaluates it here (a throw-away
root, ``init -backend=false`` + ``apply`` with local state) and the result is compared with
feedline.contract.tables.table_specs(), the derivation the DAGs and local provisioning use.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from feedline.contract.model import load_contracts
from feedline.contract.tables import table_specs

from feedline.settings import REPO_ROOT as REPO

ORDERS = """\
feed: orders
description: Test feed added by tests/infra to prove a contract file is all a new feed needs.
file_pattern: '^orders_(?P<date>\\d{8})\\.csv$'
schedule: '@hourly'
columns:
  - {name: order_id, type: STRING, required: true}
  - {name: quantity, type: INT64, required: true}
  - {name: unit_price, type: FLOAT64}
  - {name: gift, type: BOOL}
  - {name: ordered_on, type: DATE, required: true}
key: [order_id]
partition_by: {column: ordered_on, granularity: MONTH}
cluster_by: [order_id, gift]
deadletter: {threshold: 0.1, on_exceed: fail}
reporting:
  - {name: orders_per_month, partition_by: month, refresh_interval_minutes: 120}
"""
ORDERS_VIEW = """\
-- Orders per month ({{ project }}, {{ staging_dataset }} are placeholders).
SELECT DATE_TRUNC(ordered_on, MONTH) AS month, COUNT(*) AS orders
FROM `{{ project }}.{{ staging_dataset }}.orders`
GROUP BY month
"""


@pytest.fixture(scope="module")
def derived(infra_check):
    """feed_tables and pypi_requirements outputs for the repository's own files."""
    return infra_check.derived_layout(REPO / "terraform")


def test_terraform_and_python_derive_the_same_layout(infra_check):
    assert infra_check.wiring_problems(REPO / "terraform") == []


def test_every_contract_has_its_four_tables_with_the_contracts_columns(derived):
    contracts = load_contracts(REPO / "contracts")
    assert contracts, "no contracts"
    for feed, contract in contracts.items():
        for kind, spec in table_specs(contract).items():
            table = derived["tables"][f"{feed}.{kind}"]
            assert (table["dataset_id"], table["table_id"]) == (spec.dataset, spec.name)
            columns = [(f["name"], f["type"], f["mode"]) for f in table["fields"]]
            assert columns == [(f["name"], f["type"], f["mode"]) for f in spec.fields], f"{feed}.{kind}"
            assert (table["partition_field"], table["partition_type"]) == (
                spec.partition_field,
                spec.partition_type,
            )
            assert table["cluster_by"] == list(spec.cluster_by)
        # The contract's columns are where tables.json says, with the contract's modes in staging.
        staging = {f["name"]: f for f in derived["tables"][f"{feed}.staging"]["fields"]}
        raw = {f["name"]: f for f in derived["tables"][f"{feed}.raw"]["fields"]}
        for column in contract.columns:
            assert staging[column.name]["type"] == raw[column.name]["type"] == column.type
            assert staging[column.name]["mode"] == ("REQUIRED" if column.required else "NULLABLE")
            assert raw[column.name]["mode"] == "NULLABLE"
    assert len(derived["tables"]) == 4 * len(contracts)


def test_reporting_views_carry_the_contracts_bigquery_options(derived):
    views = derived["views"]
    daily = views["transactions.daily_transaction_totals"]
    assert daily["dataset_id"] == "feedline_reporting"
    assert daily["partition_field"] == "transaction_date"
    assert daily["cluster_by"] == ["currency"]
    assert daily["refresh_interval_ms"] == 30 * 60 * 1000
    assert "FROM `test-project.feedline_staging.transactions`" in daily["query"]
    assert "{{" not in daily["query"] and "--" not in daily["query"]
    by_country = views["customers.customers_by_country"]
    assert (by_country["partition_field"], by_country["cluster_by"]) == (None, ["country"])
    assert by_country["refresh_interval_ms"] == 60 * 60 * 1000  # the contract's default


def test_composer_packages_are_requirements_txt(infra_check, derived):
    assert derived["packages"] == infra_check.requirements(REPO / "requirements.txt")
    assert derived["packages"]["apache-airflow-providers-slack"] == "==9.11.1"


def test_requirements_parser_handles_extras_comments_and_unpinned(infra_check, tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("# header\napache-beam[gcp] == 2.77.0  # why\n\nPyYAML\nfoo>=1,<2\n")
    assert infra_check.requirements(path) == {"apache-beam": "[gcp]==2.77.0", "pyyaml": "", "foo": ">=1,<2"}
    tf = infra_check.evaluate(
        {
            "p": {
                "source": str(REPO / "terraform" / "modules" / "pypi_requirements"),
                "requirements_file": str(path),
            }
        },
        {"packages": "${module.p.packages}"},
        tmp_path / "tf",
    )
    assert tf["packages"] == infra_check.requirements(path)


def test_derived_values_fit_the_consuming_modules(infra_check):
    assert infra_check.interface_problems(REPO / "terraform") == []


def test_interface_check_reports_a_tfvars_value_of_the_wrong_shape(infra_check, repo_copy, edit):
    edit(
        repo_copy / "terraform" / "environments" / "prod" / "terraform.tfvars",
        "min_count = 2, max_count = 6 }",
        "min_count = 2 }",
    )
    problems = infra_check.interface_problems(repo_copy / "terraform")
    assert len(problems) == 1 and problems[0].startswith("environments/prod:"), problems
    assert '"max_count" is required' in problems[0]


def test_interface_check_reports_a_platform_call_the_module_does_not_take(infra_check, repo_copy, edit):
    edit(
        repo_copy / "terraform" / "environments" / "dev" / "main.tf",
        "settings       = var.settings",
        "setting        = var.settings",
    )
    problems = infra_check.interface_problems(repo_copy / "terraform")
    assert len(problems) == 1 and problems[0].startswith("environments/dev:"), problems
    assert 'argument "settings" is required' in problems[0] or "Unsupported argument" in problems[0]


def test_wiring_check_reports_a_terraform_derivation_that_drifts(infra_check, repo_copy, edit):
    # Break the derivation: staging no longer honours required columns.
    edit(
        repo_copy / "terraform" / "modules" / "feed_tables" / "main.tf",
        'spec.contract_columns == "contract" && col.required ? "REQUIRED" : "NULLABLE"',
        '"NULLABLE"',
    )
    problems = infra_check.wiring_problems(repo_copy / "terraform", repo=repo_copy)
    assert any(p.startswith("table customers.staging.fields") for p in problems), problems


def test_wiring_check_reports_a_dropped_table_kind(infra_check, repo_copy, edit):
    edit(
        repo_copy / "terraform" / "modules" / "feed_tables" / "main.tf",
        "tolist(spec.cluster)\n      }\n",
        'tolist(spec.cluster)\n      } if kind != "audit"\n',
    )
    problems = infra_check.wiring_problems(repo_copy / "terraform", repo=repo_copy)
    assert "table customers.audit: only in python" in problems, problems


def test_a_new_contract_file_adds_its_tables_without_any_tf_change(infra_check, repo_copy):
    contracts = repo_copy / "contracts"
    (contracts / "orders.yaml").write_text(ORDERS)
    (repo_copy / "sql" / "reporting" / "orders_per_month.sql").write_text(ORDERS_VIEW)
    tf_before = {p: p.read_text() for p in (repo_copy / "terraform").rglob("*.tf")}

    derived = infra_check.derived_layout(repo_copy / "terraform", contracts_dir=contracts)

    assert {k for k in derived["tables"] if k.startswith("orders.")} == {
        "orders.raw",
        "orders.staging",
        "orders.deadletter",
        "orders.audit",
    }
    staging = derived["tables"]["orders.staging"]
    assert (staging["partition_field"], staging["partition_type"]) == ("ordered_on", "MONTH")
    assert staging["cluster_by"] == ["order_id", "gift"]
    view = derived["views"]["orders.orders_per_month"]
    assert (view["partition_field"], view["refresh_interval_ms"]) == ("month", 120 * 60 * 1000)
    assert derived["feeds"]["orders"]["deadletter_threshold"] == 0.1
    # Same answer as Python for all three feeds, and the consuming modules accept it.
    assert infra_check.wiring_problems(repo_copy / "terraform", contracts_dir=contracts, repo=repo_copy) == []
    assert infra_check.interface_problems(repo_copy / "terraform", contracts_dir=contracts) == []
    assert tf_before == {p: p.read_text() for p in (repo_copy / "terraform").rglob("*.tf")}


def test_a_migration_to_table_version_2_declares_the_v2_tables_and_points_the_views_at_them(infra_check, repo_copy):
    contracts = repo_copy / "contracts"
    path = contracts / "transactions.yaml"
    path.write_text(path.read_text() + "version: 2\nmigration: {from_version: 1, backfill_from: 2026-01-01}\n")

    derived = infra_check.derived_layout(repo_copy / "terraform", contracts_dir=contracts)

    assert {k for k in derived["tables"] if k.startswith("transactions")} == {
        "transactions_v2.raw", "transactions_v2.staging", "transactions_v2.deadletter", "transactions_v2.audit",
    }
    assert derived["tables"]["transactions_v2.audit"]["table_id"] == "transactions_v2_audit"
    query = derived["views"]["transactions.daily_transaction_totals"]["query"]
    assert "FROM `test-project.feedline_staging.transactions_v2`" in query
    assert infra_check.wiring_problems(repo_copy / "terraform", contracts_dir=contracts, repo=repo_copy) == []


def test_no_tf_file_names_a_feed_a_view_or_a_column():
    """Tables come from contracts only: Terraform never writes a feed, view or column name."""
    feeds_and_views, columns = set(), set()
    for contract in load_contracts(REPO / "contracts").values():
        feeds_and_views |= {contract.feed, *(v.name for v in contract.reporting)}
        columns |= set(contract.column_names)
    for path in (REPO / "terraform").rglob("*.tf"):
        text = path.read_text()
        for name in feeds_and_views:
            assert not re.search(rf"\b{name}\b", text), f"{path}: {name}"
        for name in columns:
            assert f'"{name}"' not in text, f"{path}: {name}"


def test_two_contracts_with_one_feed_name_fail_the_plan(infra_check, repo_copy):
    shutil.copy(repo_copy / "contracts" / "customers.yaml", repo_copy / "contracts" / "customers_copy.yaml")
    with pytest.raises(RuntimeError, match="Duplicate object key"):
        infra_check.derived_layout(repo_copy / "terraform", contracts_dir=repo_copy / "contracts")


def test_terraform_is_the_expected_version():
    out = subprocess.run(["terraform", "version", "-json"], capture_output=True, text=True, check=True).stdout
    assert '"terraform_version": "1.' in out
