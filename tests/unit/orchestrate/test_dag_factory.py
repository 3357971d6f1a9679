"""The DAG factory's own choices: the Beam provider only for the direct runner, the pipeline
path and the contracts from Settings, the DAG id from naming."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from feedline.settings import REPO_ROOT

PROBE = textwrap.dedent(
    """
    import json, sys
    from feedline.orchestrate.dag_factory import build_all
    from feedline.settings import from_env
    after_import = "airflow.providers.apache.beam.operators.beam" in sys.modules
    build_all(from_env({"FEEDLINE_ENV": "prod", "FEEDLINE_TEMPLATE_SPEC": "gs://t/spec.json"}))
    after_cloud = "airflow.providers.apache.beam.operators.beam" in sys.modules
    build_all(from_env({}))
    after_local = "airflow.providers.apache.beam.operators.beam" in sys.modules
    print(json.dumps([after_import, after_cloud, after_local]))
    """
)


def test_the_beam_operator_is_imported_only_to_build_a_direct_runner_task():
    # (the Google provider's Dataflow hook imports the Beam provider's hooks; its operators only
    # a direct-runner DAG needs)
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [False, False, True]


def test_the_local_pipeline_and_the_contracts_come_from_settings(tmp_path):
    from feedline.orchestrate.dag_factory import build_all
    from feedline.settings import from_env

    (tmp_path / "customers.yaml").write_text((REPO_ROOT / "contracts" / "customers.yaml").read_text())
    dags = build_all(from_env({"FEEDLINE_CONTRACTS_DIR": str(tmp_path), "FEEDLINE_BEAM_PIPELINE": "/opt/job/pipeline.py"}))
    assert list(dags) == ["feedline_customers"]
    assert dags["feedline_customers"].get_task("validate_rows").py_file == "/opt/job/pipeline.py"


def test_the_sql_identifiers_are_the_templates_params_and_run_params_stay_apart():
    from feedline.orchestrate import sql
    from feedline.orchestrate.dag_factory import RUN_PARAMS, build_all
    from feedline.settings import from_env

    settings = from_env({})
    dag = build_all(settings)["feedline_transactions"]
    assert sorted(dag.params.keys()) == sorted(RUN_PARAMS) == ["date", "dry_run", "files", "force_reingest", "from_archive"]
    merge = dag.get_task("merge_staging")
    identifiers = sql.template_params(settings, dag.get_task("claim_files").op_args[0])
    assert {k: merge.params[k] for k in identifiers} == identifiers
    names = [p["name"] for p in merge.configuration["query"]["queryParameters"]]
    assert names == ["batch_id", "ingested_at", "partition_min", "partition_max"]


def test_every_feed_dag_has_the_contracts_deadline_alerting_slack_from_queueing():
    import dataclasses
    from datetime import timedelta

    from airflow.sdk import AsyncCallback, DeadlineReference

    from feedline.contract.model import load_contracts
    from feedline.orchestrate import alerts
    from feedline.orchestrate.dag_factory import build_all, build_dag
    from feedline.settings import from_env

    settings = from_env({})
    for dag in build_all(settings).values():
        [alert] = dag.deadline
        assert alert.interval == timedelta(minutes=120)  # the default: no shipped contract sets one
    contract = dataclasses.replace(load_contracts()["customers"], deadline_minutes=0.5)
    [alert] = build_dag(contract, settings).deadline
    assert alert.interval == timedelta(seconds=30)
    assert isinstance(alert.reference, type(DeadlineReference.DAGRUN_QUEUED_AT))
    assert isinstance(alert.callback, AsyncCallback)
    assert alert.callback.path == "airflow.providers.slack.notifications.slack_webhook.SlackWebhookNotifier"
    assert alert.callback.kwargs == {"slack_webhook_conn_id": "feedline_slack",
                                     "text": alerts.deadline_text("customers", 0.5)}


def test_dags_parsed_by_airflow_dags_test_have_no_deadline():
    from feedline.orchestrate.dag_factory import runs_under_dags_test

    assert runs_under_dags_test(["/venv/bin/airflow", "dags", "test", "feedline_customers"])
    assert not runs_under_dags_test(["/venv/bin/airflow", "dag-processor"])
    assert not runs_under_dags_test(["/venv/bin/airflow", "scheduler"])
    assert not runs_under_dags_test(["pytest"])


def test_bigquery_jobs_run_again_on_every_try_and_clear_and_the_beam_job_takes_the_pool():
    from airflow.providers.google.cloud.operators.bigquery import BigQueryInsertJobOperator

    from feedline.orchestrate import dag_factory
    from feedline.settings import from_env

    settings = from_env({"FEEDLINE_BEAM_POOL": "beam_x", "FEEDLINE_MAX_ACTIVE_RUNS": "3"})
    for dag in dag_factory.build_all(settings).values():
        assert dag.max_active_runs == 3
        jobs = [t for t in dag.tasks if isinstance(t, BigQueryInsertJobOperator)]
        assert {t.task_id for t in jobs} >= {"publish_raw", "publish_deadletter", "record_audit", "merge_staging"}
        for t in jobs:
            assert t.force_rerun is True and t.durable is False, t.task_id
            assert "dag_run.clear_number" in t.job_id and "ti.try_number" in t.job_id
        assert dag.get_task("validate_rows").pool == "beam_x"
        assert "feedline_load_tables(run_id, dag_run.run_type)['valid']" in dag.get_task("load_valid").destination_project_dataset_table
        # rows load from the job's Parquet, NUMERIC from its DECIMAL(38, 9); the summary from JSON
        for output in ("valid", "deadletter"):
            load = dag.get_task(f"load_{output}")
            assert load.source_format == "PARQUET" and load.extra_config == {"decimalTargetTypes": ["NUMERIC"]}
        assert dag.get_task("load_summary").source_format == "NEWLINE_DELIMITED_JSON"
        # the sweep gives up well before the next scheduled run
        assert dag.get_task("wait_for_files").timeout <= _interval(dag_factory_schedule(dag)) / 2


def dag_factory_schedule(dag) -> str:
    from feedline.contract.model import load_contracts

    return {f"feedline_{c.feed}": c.schedule for c in load_contracts().values()}[dag.dag_id]


def _interval(schedule: str) -> float:
    from datetime import datetime, timezone

    from croniter import croniter

    it = croniter(schedule, datetime(2026, 1, 1, tzinfo=timezone.utc))
    first = it.get_next(float)
    return it.get_next(float) - first


def test_every_bigquery_task_gives_up_on_an_unreachable_service_within_minutes():
    """Not the client's 600 s default (a task hung 10 minutes with BigQuery down): each call is
    retried at most SERVICE_RETRY_SECONDS, then the try fails and Airflow retries with backoff."""
    from airflow.providers.google.cloud.operators.bigquery import BigQueryInsertJobOperator
    from airflow.providers.google.cloud.transfers.gcs_to_bigquery import GCSToBigQueryOperator

    from feedline.orchestrate import bq_calls, dag_factory
    from feedline.settings import from_env

    assert bq_calls.SERVICE_RETRY_SECONDS <= 180
    for dag in dag_factory.build_all(from_env({})).values():
        bigquery = [t for t in dag.tasks if isinstance(t, (BigQueryInsertJobOperator, GCSToBigQueryOperator))]
        assert len(bigquery) >= 6
        for t in bigquery:
            assert t.result_retry.timeout == bq_calls.SERVICE_RETRY_SECONDS, t.task_id
            assert t.retries >= 2 and t.retry_exponential_backoff, t.task_id


def test_the_local_beam_task_runs_the_job_with_the_real_interpreter_and_skips_the_version_probe(tmp_path, capfd):
    # Through the provider's own hook, as the task calls it: the job's command reaches the real
    # interpreter with its options, and the hook's version probe is answered without starting a
    # second Python that imports apache_beam (4-12 s per Beam task on the 2-core machine).
    from airflow.providers.apache.beam.hooks.beam import BeamHook

    from feedline.orchestrate.dag_factory import build_all
    from feedline.settings import from_env

    task = build_all(from_env({}))["feedline_customers"].get_task("validate_rows")
    job = tmp_path / "job.py"
    job.write_text(
        "import sys, pathlib\n"
        "out = next(a.split('=', 1)[1] for a in sys.argv if a.startswith('--out='))\n"
        "pathlib.Path(out).write_text(sys.executable)\n"
    )
    marker = tmp_path / "ran"
    BeamHook(runner="DirectRunner").start_python_pipeline(
        variables={"out": str(marker)}, py_file=str(job),
        py_options=task.py_options, py_interpreter=task.py_interpreter,
    )
    assert marker.read_text() == sys.executable
    assert "Beam version: logged by the job" in "".join(capfd.readouterr())
