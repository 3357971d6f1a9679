"""The flex template launch: the exact body the DAG sends, and metadata.json that declares it."""

from __future__ import annotations

import json
import re

import pytest

from feedline.orchestrate import launch
from feedline.contract import naming
from feedline.contract.model import load_contracts
from feedline.settings import from_env

from feedline.settings import REPO_ROOT as REPO
METADATA = json.loads((REPO / "beam_jobs" / "metadata.json").read_text())
PARAMETERS = {p["name"]: p for p in METADATA["parameters"]}
# What Dataflow accepts as a job name (projects.locations.flexTemplates.launch).
DATAFLOW_JOB_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,1022}[a-z0-9])?$")

PROD = {
    "FEEDLINE_ENV": "prod",
    "FEEDLINE_PROJECT": "acme-feedline-prod",
    "FEEDLINE_BUCKET_PREFIX": "acme-feedline-prod",
    "FEEDLINE_TEMPLATE_SPEC": "gs://acme-feedline-prod-work/templates/feedline-ingest.json",
    "FEEDLINE_DATAFLOW_SA": "feedline-dataflow@acme-feedline-prod.iam.gserviceaccount.com",
    "FEEDLINE_DATAFLOW_SUBNETWORK": (
        "https://www.googleapis.com/compute/v1/projects/acme-feedline-prod/regions/europe-west1/subnetworks/dataflow"
    ),
    "FEEDLINE_CONTRACTS_URI": "gs://acme-feedline-prod-work/contracts",
}
INGESTED_AT = "2026-11-27T08:15:00.000000Z"


def body(feed: str, run_id: str, env: dict[str, str] = PROD) -> dict:
    settings = from_env(env)
    contract = load_contracts()[feed]
    batch_id = naming.batch_id_for_run(feed, run_id)
    return launch.flex_template_body(settings, launch.launch_spec(settings, contract, batch_id, INGESTED_AT))


def expected(feed: str, batch_id: str, job_name: str) -> dict:
    work = "gs://acme-feedline-prod-work"
    return {
        "launchParameter": {
            "jobName": job_name,
            "containerSpecGcsPath": f"{work}/templates/feedline-ingest.json",
            "parameters": {
                "feed": feed,
                "contract": f"{work}/contracts/{feed}.yaml",
                "input": f"gs://acme-feedline-prod-landing/processing/{feed}/{batch_id}/*",
                "output_prefix": f"{work}/batches/{feed}/{batch_id}/",
                "batch_id": batch_id,
                "ingested_at": INGESTED_AT,
            },
            "environment": {
                "tempLocation": f"{work}/dataflow/temp",
                "stagingLocation": f"{work}/dataflow/staging",
                "additionalUserLabels": {"app": "feedline", "feed": feed, "env": "prod"},
                "ipConfiguration": "WORKER_IP_PRIVATE",
                "enableStreamingEngine": False,
                "serviceAccountEmail": "feedline-dataflow@acme-feedline-prod.iam.gserviceaccount.com",
                "subnetwork": PROD["FEEDLINE_DATAFLOW_SUBNETWORK"],
            },
        }
    }


def test_transactions_body_is_exactly_this():
    run_id = "scheduled__2026-11-27T08:15:00+00:00"
    batch_id = "scheduled_2026_11_27t08_15_00_00_00_9b90171454"
    assert naming.batch_id_for_run("transactions", run_id) == batch_id
    assert body("transactions", run_id) == expected("transactions", batch_id, "feedline-transactions-4ed73c06d58f")


def test_customers_body_is_exactly_this():
    run_id = "manual__2026-11-27T09:00:00.123456+00:00"
    batch_id = "manual_2026_11_27t09_00_00_123456_00_6213dd6ab1"
    assert naming.batch_id_for_run("customers", run_id) == batch_id
    assert body("customers", run_id) == expected("customers", batch_id, "feedline-customers-c25753f02ec1")


def test_without_service_account_or_subnetwork_the_environment_leaves_them_out():
    env = {k: v for k, v in PROD.items() if k not in ("FEEDLINE_DATAFLOW_SA", "FEEDLINE_DATAFLOW_SUBNETWORK")}
    environment = body("transactions", "manual__x", env)["launchParameter"]["environment"]
    assert "serviceAccountEmail" not in environment and "subnetwork" not in environment


def test_no_template_spec_is_an_error_not_a_broken_launch():
    env = {k: v for k, v in PROD.items() if k != "FEEDLINE_TEMPLATE_SPEC"}
    with pytest.raises(ValueError, match="FEEDLINE_TEMPLATE_SPEC"):
        body("transactions", "manual__x", env)


RUN_IDS = [
    "scheduled__2026-11-27T08:15:00+00:00",
    "scheduled__2026-11-27T08:30:00+00:00",
    "manual__2026-11-27T09:00:00.123456+00:00",
    "backfill__2026-01-01T00:00:00+00:00",
    "dataset_triggered__2026-11-27T08:15:00+00:00",
    "api__gcs-finalize__transactions_20261127.csv__1732695300123456",
    "MANUAL__A",
    "manual__a",
    "x" * 250,
    "_",
]


@pytest.mark.parametrize("feed", ["customers", "transactions"])
def test_job_names_are_valid_unique_per_batch_and_stable_across_retries(feed):
    names = {}
    for run_id in RUN_IDS:
        name = body(feed, run_id)["launchParameter"]["jobName"]
        assert DATAFLOW_JOB_NAME.match(name) and len(name) <= 63, name
        assert launch.JOB_NAME.match(name)
        # A retried task (or a cleared run) rebuilds the body from the same run id: same name.
        assert body(feed, run_id)["launchParameter"]["jobName"] == name
        names[run_id] = name
    assert len(set(names.values())) == len(RUN_IDS)  # one job per batch
    other = "customers" if feed == "transactions" else "transactions"
    assert not set(names.values()) & {body(other, r)["launchParameter"]["jobName"] for r in RUN_IDS}


def test_metadata_declares_exactly_the_launch_parameters_and_the_job_options():
    from feedline_beam.pipeline import IngestOptions

    required = {name for name, p in PARAMETERS.items() if not p.get("isOptional")}
    assert required == set(launch.TEMPLATE_IMAGE_PARAMETERS)
    parser_options = {a.dest for a in _ingest_parser(IngestOptions)._actions}
    assert set(PARAMETERS) <= parser_options  # the job accepts every declared parameter
    for parameter in METADATA["parameters"]:
        assert parameter["label"] and len(parameter["helpText"]) > 20 and parameter["regexes"], parameter["name"]
        for pattern in parameter["regexes"]:
            assert pattern.startswith("^") and pattern.endswith("$"), (parameter["name"], pattern)


def _ingest_parser(options_class):
    import argparse

    parser = argparse.ArgumentParser()
    options_class._add_argparse_args(parser)
    return parser


@pytest.mark.parametrize("feed", ["customers", "transactions"])
@pytest.mark.parametrize("run_id", RUN_IDS[:6])
def test_every_body_parameter_is_declared_with_a_regex_that_accepts_it(feed, run_id):
    parameters = body(feed, run_id)["launchParameter"]["parameters"]
    for name, value in parameters.items():
        assert name in PARAMETERS, f"{name} is not declared in beam_jobs/metadata.json"
        for pattern in PARAMETERS[name]["regexes"]:
            assert re.fullmatch(pattern, value), (name, value, pattern)


BAD_VALUES = {
    "feed": ["", "Transactions", "trans-actions", "1feed", "a" * 31, "transactions\n"],
    "contract": ["", "contracts/transactions.yaml", "s3://bucket/t.yaml", "gs://bucket/t.json", "gs://B/t.yaml",
                 "gs://bucket/", "gs://bucket/*.yaml"],
    "input": ["", "/local/file.csv", "gs://bucket", "gs://bucket/", "gs://Bucket/x/*", "gs://bucket/a b"],
    "output_prefix": ["", "gs://bucket/batches/x", "/tmp/out/", "gs://bucket/a*/", "gs://b/x/"],
    "batch_id": ["", "Batch", "a-b", "a b", "_x", "a" * 64],
    "ingested_at": ["", "2026-11-27", "2026-11-27 08:15:00Z", "2026-11-27T08:15:00+01:00",
                    "2026-13-27T08:15:00Z", "2026-11-27T24:15:00Z", "2026-11-27T08:15:00.1234567Z"],
    "engine": ["", "fast", "Columnar"],
    "range_mb": ["", "-1", "01", "1.5", "1000000"],
    "block_mb": ["", "0", "65", "128", "x"],
}


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_the_regexes_reject_obviously_bad_values(name):
    assert name in BAD_VALUES, f"add bad values for {name}"
    for value in BAD_VALUES[name]:
        assert not all(re.fullmatch(p, value) for p in PARAMETERS[name]["regexes"]), (name, value)


def test_local_runs_get_the_same_parameters_as_dataflow():
    settings = from_env({**PROD, "FEEDLINE_ENV": "local", "FEEDLINE_RUNNER": "direct"})
    contract = load_contracts()["transactions"]
    spec = launch.launch_spec(settings, contract, "b_1", INGESTED_AT)
    local = launch.direct_runner_options(spec)
    cloud = launch.flex_template_body(settings, spec)["launchParameter"]
    assert {k: local[k] for k in cloud["parameters"]} == cloud["parameters"]
    assert local["job_name"] == cloud["jobName"]


def test_the_job_parses_the_body_parameters_as_its_options():
    from apache_beam.options.pipeline_options import PipelineOptions

    from feedline_beam.pipeline import IngestOptions

    parameters = body("transactions", RUN_IDS[0])["launchParameter"]["parameters"]
    options = PipelineOptions([f"--{k}={v}" for k, v in parameters.items()]).view_as(IngestOptions)
    assert {k: getattr(options, k) for k in parameters} == parameters
    assert options.engine == "columnar"


def test_the_launch_parameters_are_the_declared_ones():
    from feedline.contract import job

    assert launch.TEMPLATE_IMAGE_PARAMETERS == job.LAUNCH_PARAMETERS
    assert list(body("transactions", RUN_IDS[0])["launchParameter"]["parameters"]) == list(job.LAUNCH_PARAMETERS)


def test_the_jobs_options_carry_the_declared_help_and_defaults():
    from feedline.contract import job
    from feedline.validate.columnar import BLOCK_SIZE
    from feedline_beam.pipeline import DEFAULT_RANGE_MB, REQUIRED, IngestOptions

    actions = {a.dest: a for a in _ingest_parser(IngestOptions)._actions if a.dest != "help"}
    assert list(actions) == [p.name for p in job.PARAMETERS]
    assert {name: a.help for name, a in actions.items()} == {p.name: p.help for p in job.PARAMETERS}
    assert REQUIRED == job.LAUNCH_PARAMETERS
    # The help texts state the job's defaults; the job's constants must agree.
    assert f"Default {BLOCK_SIZE >> 20}." in job.BY_NAME["block_mb"].help and actions["block_mb"].default == 16
    assert f"Default {DEFAULT_RANGE_MB}." in job.BY_NAME["range_mb"].help
    assert actions["engine"].default == "columnar" and "columnar (default" in job.BY_NAME["engine"].help


def test_a_parameter_the_template_would_refuse_is_a_value_error_before_launch():
    settings = from_env({**PROD, "FEEDLINE_CONTRACTS_URI": "/local/contracts"})
    spec = launch.launch_spec(settings, load_contracts()["transactions"], "b_1", INGESTED_AT)
    with pytest.raises(ValueError, match="parameter contract='/local/contracts/transactions.yaml' does not match"):
        launch.flex_template_body(settings, spec)
    with pytest.raises(ValueError, match="'colour' is not a parameter of the Beam job"):
        launch.check_parameters({"colour": "red"})
    with pytest.raises(ValueError, match="parameter batch_id='Bad' does not match"):
        launch.check_parameters({"batch_id": "Bad"})


def test_an_invalid_job_name_is_a_value_error_not_an_assert(monkeypatch):
    monkeypatch.setattr(launch, "JOB_NAME", re.compile(r"^never$"))
    with pytest.raises(ValueError, match="invalid Dataflow job name 'feedline-transactions-"):
        launch.job_name("transactions", "b_1")
