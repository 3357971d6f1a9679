"""The Assets each feed's DAG updates: exactly its staging table (merge_staging) and its reporting
views (refresh_<view>), named in the Google provider's bigquery:// form for the very tables the
SQL writes. That a skipped task emits nothing, and that a consumer starts, is shown through the
real scheduler (tests/e2e/test_assets.py)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from airflow.providers.google.assets.bigquery import sanitize_uri
from airflow.sdk import Asset

from feedline.contract import tables
from feedline.contract.model import load_contracts
from feedline.orchestrate import assets, sql
from feedline.orchestrate.dag_factory import build_all
from feedline.settings import from_env

SETTINGS = from_env({"FEEDLINE_PROJECT": "acme-data-prod"})


@pytest.fixture(scope="module")
def dags():
    return build_all(SETTINGS)


@pytest.mark.parametrize("feed", sorted(load_contracts()))
def test_the_outlets_are_exactly_the_feeds_staging_table_and_views_on_the_tasks_that_write_them(dags, feed):
    contract = load_contracts()[feed]
    dag = dags[f"feedline_{feed}"]
    outlets = {task.task_id: [a.uri for a in task.outlets] for task in dag.tasks if task.outlets}
    expected = {"merge_staging": [f"bigquery://acme-data-prod/feedline_staging/{feed}"]}
    expected |= {f"refresh_{v.name}": [f"bigquery://acme-data-prod/feedline_reporting/{v.name}"] for v in contract.reporting}
    assert contract.reporting  # every shipped feed has a view: the refresh outlets are exercised
    assert outlets == expected
    # and their events name the batch (tests/e2e/test_assets.py reads it back)
    assert {t: dag.get_task(t)._post_execute_hook for t in outlets} == {t: assets.name_the_batch for t in outlets}
    assert [a.uri for a in assets.feed_assets(contract, SETTINGS)] == [u for uris in expected.values() for u in uris]


def table_named_by(asset: Asset) -> str:
    """project.dataset.table of a bigquery:// Asset, as the provider's OpenLineage converter
    (airflow.providers.google.assets.bigquery) names it (the OpenLineage provider, which would
    let the test call it, is not installed here)."""
    return ".".join(asset.uri.split("/")[-3:])


@pytest.mark.parametrize("feed", sorted(load_contracts()))
def test_each_asset_names_the_table_its_task_writes_and_the_provider_accepts_it(dags, feed):
    # The table the MERGE writes and the views the refreshes call, so lineage (namespace
    # bigquery, that name) and scheduling speak of one object.
    contract = load_contracts()[feed]
    identifiers = sql.template_params(SETTINGS, contract)
    dag = dags[f"feedline_{feed}"]
    [staging] = dag.get_task("merge_staging").outlets
    assert table_named_by(staging) == identifiers["staging_table"]
    views = [table_named_by(a) for v in contract.reporting for a in dag.get_task(f"refresh_{v.name}").outlets]
    assert views == identifiers["reporting_views"]
    for asset in (a for task in dag.tasks for a in task.outlets):
        assert sanitize_uri(urlsplit(asset.uri)) == urlsplit(asset.uri)


def test_a_consumer_declaring_the_uri_by_hand_gets_the_same_asset():
    # Declared by URI alone, an Asset's name is its URI: equal objects, one Asset in Airflow.
    assert assets.staging_asset("transactions", SETTINGS) == Asset("bigquery://acme-data-prod/feedline_staging/transactions")
    assert assets.staging_asset("transactions", SETTINGS).name == assets.staging_asset("transactions", SETTINGS).uri


def test_the_asset_project_follows_the_environment(monkeypatch):
    monkeypatch.setenv("FEEDLINE_PROJECT", "other-project-1")
    assert assets.staging_asset("customers").uri == "bigquery://other-project-1/feedline_staging/customers"


@pytest.mark.parametrize("parts", [("acme", "feedline_staging", "a/b"), ("", "d", "t"), ("p", "d", "t?x=1"), ("p", "d.e", "t")])
def test_a_part_that_would_change_the_uris_shape_is_refused(parts):
    with pytest.raises(ValueError, match="cannot be part of a BigQuery asset URI"):
        tables.asset_uri(*parts)


def test_the_table_location_is_the_one_table_spec_uses():
    contract = load_contracts()["transactions"]
    for kind in tables.TABLE_KINDS:
        spec = tables.table_spec(contract, kind)
        assert tables.table_location("transactions", kind) == (spec.dataset, spec.name)
