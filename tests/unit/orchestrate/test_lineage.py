"""What the Feedline tasks add to OpenLineage: the datasets each names (the e2e suite reads the
events of a real run: tests/e2e/test_start_paths.py)."""

from __future__ import annotations

from dataclasses import replace

from feedline.orchestrate import lineage
from feedline.settings import from_env
from feedline.storage.claims import Claim, ClaimedFile


def test_a_claim_reads_its_landed_objects_or_the_archive_day_and_not_a_reruns_own_files(contracts):
    settings, contract = from_env(), contracts["customers"]
    claim = Claim("b1", [
        ClaimedFile("customers_20261126.csv", "processing/customers/b1/customers_20261126.csv", "landing", "20261126"),
        ClaimedFile("customers_20261101.csv", "processing/customers/b1/customers_20261101.csv", "archive", "20261101"),
        ClaimedFile("customers_20261102.csv", "processing/customers/b1/customers_20261102.csv", "archive", "20261101"),
        ClaimedFile("customers_20261103.csv", "processing/customers/b1/customers_20261103.csv", "rerun", "20261103"),
    ])
    assert lineage.claimed_inputs(settings, contract, claim) == [
        f"gs://{settings.landing_bucket}/customers/customers_20261126.csv",
        f"gs://{settings.archive_bucket}/customers/date=20261101",
    ]
    assert lineage.processing_uri(settings, contract, "b1") == f"gs://{settings.landing_bucket}/processing/customers/b1"


def test_the_job_writes_its_three_outputs_and_settled_files_name_their_folders(contracts):
    settings = from_env()
    assert lineage.job_outputs(settings, contracts["customers"], "b1") == [
        f"gs://{settings.work_bucket}/batches/customers/b1/{output}" for output in ("valid", "deadletter", "summary")
    ]
    assert lineage.settled_outputs(["gs://a/customers/date=20261126/b1/x.csv", "gs://a/customers/date=20261126/b1/y.csv",
                                    "gs://q/customers/b1/z.csv", None]) == [
        "gs://a/customers/date=20261126/b1", "gs://q/customers/b1",
    ]


def test_a_refresh_reads_staging_of_the_contracts_table_version(contracts):
    settings, contract = from_env(), contracts["customers"]
    inputs, outputs = lineage.view_lineage(settings, contract, "customers_by_country")
    assert inputs == [f"bigquery://{settings.project}/feedline_staging/customers"]
    assert outputs == [f"bigquery://{settings.project}/feedline_reporting/customers_by_country"]
    assert lineage.view_lineage(settings, replace(contract, version=2), "customers_by_country")[0] == [
        f"bigquery://{settings.project}/feedline_staging/customers_v2"
    ]
