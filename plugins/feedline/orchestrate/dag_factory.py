"""Builds one ingestion DAG per feed contract.

    choose_source -> [wait_for_files ->] claim_files -> clear_outputs -> validate_rows
      -> load_deadletter, load_summary -> evolve_columns -> load_valid
      -> publish_raw, publish_deadletter
      -> record_audit -> check_batch -> merge_staging -> refresh_<view>... -> settle_files
      -> drop_load_tables

Every intermediate is the batch's own (outputs under naming.output_prefix, load tables from
sql.load_tables), so runs of one feed may overlap; the Beam jobs running at once are bounded by
an Airflow pool (Settings.beam_pool). A dry run (params.RUN_PARAMS) skips the publish_*,
merge_staging and refresh_* tasks; the audit counts its load tables instead. claim_files sets
aside the files an earlier batch ingested byte for byte (a 'duplicate' audit row each, archived at
once; param force_reingest and backfills turn that off); when nothing is left, clear_outputs and
every task after it are skipped.

merge_staging has the feed's staging table as its outlet and each refresh_<view> its view
(feedline.orchestrate.assets): a DAG scheduled on one starts when a batch has really updated it
(a skipped task emits no asset event).

Everything that talks to a service is an Airflow Google operator or a task using Airflow's
hooks (feedline.orchestrate.tasks), with retries and a Slack notification on failure. Here:
one small function per operator, and build_dag wiring them. Nothing here does I/O when the DAG
file is parsed: settings come from environment variables, contracts from Settings.contracts_dir.
"""

from __future__ import annotations

import functools
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.providers.google.cloud.operators.bigquery import BigQueryInsertJobOperator
from airflow.providers.google.cloud.operators.gcs import GCSDeleteObjectsOperator
from airflow.providers.google.cloud.sensors.gcs import GCSObjectsWithPrefixExistenceSensor
from airflow.providers.google.cloud.transfers.gcs_to_bigquery import GCSToBigQueryOperator
from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

from airflow.sdk import DAG, AsyncCallback, BaseOperator, DeadlineAlert, DeadlineReference, XComArg, chain, cross_downstream

from feedline.contract import naming, tables
from feedline.contract.model import Contract, load_contracts
from feedline.orchestrate import alerts, assets, columns, dataflow, events, launch, lineage, sql, tasks
from feedline.orchestrate.bq_calls import BIGQUERY_CALL_RETRY
from feedline.orchestrate.params import RUN_PARAMS, skip_in_dry_run
from feedline.orchestrate.tasks import GCP_CONN_ID
from feedline.settings import REPO_ROOT, Settings, from_env

START_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)


# Local runs' interpreter for the Beam job (see the script: it skips the provider's version probe).
BEAM_PYTHON = REPO_ROOT / "beam_jobs" / "feedline_beam" / "beam-python"


def xcom(key: str, task_id: str = "claim_files") -> str:
    """Template that pulls one value the batch's claim pushed."""
    return f"{{{{ ti.xcom_pull(task_ids='{task_id}', key='{key}') }}}}"


# Every try of a BigQuery task, after a retry or a Clear, submits its statement again (see
# insert_job); the id says which run-clear and try it belongs to (the operator adds a unique
# suffix), so the jobs of a re-done batch are told apart from the first ones.
JOB_ID = "{{ dag.dag_id }}_{{ ti.task_id }}_clear{{ dag_run.clear_number }}_try{{ ti.try_number }}"

# The sweep (a scheduled run with nothing named) waits at most this long for files to land.
# Well under every feed's schedule interval (test_dag_factory checks), so at most one sweep of
# a feed waits at a time, and with max_active_runs > 1 (Settings, default 4) the waiting
# sweep holds one run slot only: a manual, event or backfill run starts beside it at once.
# Deferrable: the wait holds no worker slot either (the triggerer polls).
SWEEP_POKE_INTERVAL = 30
SWEEP_TIMEOUT = 300

# The BigQuery operators retry a call that fails for a transient reason (connection refused,
# 5xx) for at most SERVICE_RETRY_SECONDS (bq_calls), then the try fails and Airflow retries the
# task with backoff. The job itself may run longer: this bounds the retries of one call.

BATCH_PARAMETERS = [
    sql.query_parameter("batch_id", "STRING", xcom("batch_id")),
    sql.query_parameter("ingested_at", "TIMESTAMP", xcom("ingested_at")),
]


def failure_notifiers(settings: Settings) -> list:
    """Slack for every failed task; PagerDuty too in production."""
    notifiers: list = [
        events.FailureEvent(settings),  # the failure signal the monitoring alerts on (events.json)
        SlackWebhookNotifier(slack_webhook_conn_id=settings.slack_conn_id, text=alerts.TASK_FAILED),
    ]
    if settings.is_production and settings.pagerduty_conn_id:
        from airflow.providers.pagerduty.notifications.pagerduty import PagerdutyNotifier

        notifiers.append(
            PagerdutyNotifier(
                pagerduty_events_conn_id=settings.pagerduty_conn_id,
                summary="Feedline task failed: {{ dag.dag_id }}.{{ ti.task_id }}",
                severity="error",
                source="{{ dag.dag_id }}",
                dedup_key="{{ dag.dag_id }}-{{ run_id }}",
            )
        )
    return notifiers


def default_args(settings: Settings) -> dict[str, Any]:
    """Every task retries with backoff and alerts on failure."""
    return {
        "owner": "feedline",
        "retries": 2,
        "retry_delay": timedelta(seconds=5 if settings.env == "local" else 60),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(hours=2),
        "on_failure_callback": failure_notifiers(settings),
    }


def deadline_alert(contract: Contract, settings: Settings) -> DeadlineAlert:
    """Slack when a run has not ended well ``deadline_minutes`` after it was queued: its batch
    is not in staging (still running, or failed). Airflow drops the deadline of a run that
    succeeds in time; the scheduler marks a missed one and the triggerer sends the message."""
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(minutes=contract.deadline_minutes),
        callback=AsyncCallback(
            SlackWebhookNotifier,
            kwargs={
                "slack_webhook_conn_id": settings.slack_conn_id,
                "text": alerts.deadline_text(contract.feed, contract.deadline_minutes),
            },
        ),
    )


def runs_under_dags_test(argv: list[str]) -> bool:
    """`airflow dags test` of Airflow 3.3.2 fails at the end of a successful run of a DAG with a
    deadline (DAG.test serializes the DAG in memory, and DagRun.update_state then looks its
    deadline alerts up by id: "'dict' object has no attribute 'hex'"). Nothing evaluates
    deadlines there (no scheduler), so the DAGs it parses are built without one."""
    return argv[1:3] == ["dags", "test"]


def feed_dag(contract: Contract, settings: Settings) -> DAG:
    """The DAG object of a feed, without tasks."""
    feed = contract.feed
    return DAG(
        dag_id=naming.dag_id(feed),
        description=contract.description or f"Ingest the {feed} feed",
        doc_md=__doc__,
        schedule=contract.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=settings.max_active_runs,
        dagrun_timeout=timedelta(hours=6),
        default_args=default_args(settings),
        template_searchpath=[str(settings.sql_dir)],
        # The batch's load tables, computed from the run id by the one validated function the
        # SQL templates and the load operators share.
        user_defined_macros={
            sql.LOAD_TABLES_MACRO: functools.partial(sql.load_tables_for_run, settings, contract),
            sql.EXTRA_COLUMNS_MACRO: functools.partial(sql.extra_columns_of_run, contract),
            sql.LOADED_COLUMNS_MACRO: functools.partial(sql.loaded_columns_of_run, contract),
        },
        tags=["feedline", f"feed:{feed}", f"env:{settings.env}"],
        params=RUN_PARAMS,
        deadline=None if runs_under_dags_test(sys.argv) else deadline_alert(contract, settings),
    )


def wait_for_files(contract: Contract, settings: Settings) -> BaseOperator:
    return GCSObjectsWithPrefixExistenceSensor(
        task_id="wait_for_files",
        bucket=settings.landing_bucket,
        prefix=naming.landing_prefix(contract.feed),
        google_cloud_conn_id=GCP_CONN_ID,
        deferrable=True,
        poke_interval=SWEEP_POKE_INTERVAL,
        timeout=SWEEP_TIMEOUT,
        soft_fail=True,  # nothing landed: the run is skipped, not failed
    )


def clear_outputs(contract: Contract, settings: Settings) -> BaseOperator:
    """Leftovers of an earlier attempt of the batch would be loaded with its new outputs."""
    return GCSDeleteObjectsOperator(
        task_id="clear_outputs",
        bucket_name=settings.work_bucket,
        prefix=naming.output_prefix(contract.feed, xcom("batch_id")),
        gcp_conn_id=GCP_CONN_ID,
        pre_execute=tasks.skip_without_files,  # every claimed file was a duplicate: the rest skips
    )


def validate_rows(contract: Contract, settings: Settings, launch_options: XComArg) -> BaseOperator:
    """The Beam job: on the DirectRunner locally, as a Dataflow flex template in the cloud.
    ``launch_options`` is what claim_files built for that runner (tasks.launch_options)."""
    job_lineage = lineage.report_beam_job(settings, contract)
    if settings.runner == "direct":
        # Imported here: the cloud's DAGs never need the Beam provider.
        from airflow.providers.apache.beam.operators.beam import BeamRunPythonPipelineOperator

        return BeamRunPythonPipelineOperator(
            task_id="validate_rows",
            py_file=str(settings.beam_pipeline),
            runner=launch.LOCAL_RUNNER,  # FnApiRunner without DirectRunner's Prism download attempt
            pipeline_options=launch_options,
            # The job runs as `beam-python PYTHON pipeline.py ...`: the script answers the
            # operator's version probe without importing apache_beam in a second interpreter.
            py_interpreter=str(BEAM_PYTHON),
            py_options=[sys.executable],
            gcp_conn_id=GCP_CONN_ID,
            pool=settings.beam_pool,
            pre_execute=job_lineage,
        )
    # Deferrable (waits in the triggerer); a retry waits for the batch's job instead of a second.
    return dataflow.BatchFlexTemplateOperator(
        task_id="validate_rows",
        body=launch_options,
        attempt=xcom("attempt"),
        location=settings.region,
        project_id=settings.project,
        gcp_conn_id=GCP_CONN_ID,
        pool=settings.beam_pool,  # bounds the Dataflow jobs running at once
        pre_execute=job_lineage,
    )


def load_output(contract: Contract, settings: Settings, output: str) -> BaseOperator:
    """One of the Beam job's outputs into the batch's own load table (recreated by every try,
    so a Clear finds it again after drop_load_tables removed it). The valid output's schema
    is the one evolve_columns wrote for the batch (the contract's columns and evolved ones).
    Formats: tables.LOAD_FORMATS (Parquet for rows, NUMERIC from DECIMAL(38, 9))."""
    prefix = naming.output_prefix(contract.feed, xcom("batch_id"))
    valid = output == "valid"
    source_format = tables.LOAD_FORMATS[output]
    parquet = {"decimalTargetTypes": tables.PARQUET_DECIMAL_TARGET_TYPES} if source_format == "PARQUET" else None
    return GCSToBigQueryOperator(
        task_id=f"load_{output}",
        bucket=settings.work_bucket,
        source_objects=[f"{prefix}{output}/{naming.OUTPUT_FILES}"],  # never a killed job's leftovers
        destination_project_dataset_table=f"{{{{ {sql.LOAD_TABLES_MACRO}(run_id, dag_run.run_type)['{output}'] }}}}",
        schema_fields=None if valid else tables.load_output_schema(contract, output),
        schema_object=f"{prefix}{columns.VALID_SCHEMA_OBJECT}" if valid else None,
        source_format=source_format,
        extra_config=parquet,
        write_disposition="WRITE_TRUNCATE",
        create_disposition="CREATE_IF_NEEDED",
        autodetect=False,
        max_bad_records=0,
        location=settings.bq_location,
        gcp_conn_id=GCP_CONN_ID,
        result_retry=BIGQUERY_CALL_RETRY,
    )


def insert_job(settings: Settings, task_id: str, configuration: dict[str, Any], **kwargs) -> BigQueryInsertJobOperator:
    """A BigQuery job that runs again on every try and every Clear.

    Airflow 3.3's operator is durable by default: it keeps a try's job id in the task state
    store and, on the next try or after a Clear, re-attaches to that job and skips the statement
    if it succeeded, so a cleared batch kept its stale result. Every statement here is an
    idempotent MERGE (or a view refresh), so running it again is always safe and a retry after
    a transient fault never duplicates a row; hence a new job every time (durable=False, and
    force_rerun for a unique id)."""
    return BigQueryInsertJobOperator(
        task_id=task_id,
        configuration=configuration,
        job_id=JOB_ID,
        force_rerun=True,
        durable=False,
        location=settings.bq_location,
        gcp_conn_id=GCP_CONN_ID,
        result_retry=BIGQUERY_CALL_RETRY,  # the operator retries the submit with it too
        **kwargs,
    )


def query(
    settings: Settings,
    identifiers: dict[str, Any],
    task_id: str,
    template: str,
    parameters: list[dict],
    task_kwargs: dict[str, Any] | None = None,
    extra_columns: bool = False,
    **extra,
) -> BigQueryInsertJobOperator:
    """A template of sql/ as a BigQuery job: ``identifiers`` (and ``extra``) are the template's
    ``params``, the batch's ``load_tables`` come from the DAG's macro (and, with
    ``extra_columns``, the evolved columns the tables carry), every value is one of the query
    ``parameters``; ``task_kwargs`` go to the operator."""
    return insert_job(
        settings, task_id, sql.query_job(sql.with_load_tables(template, extra_columns), parameters),
        params={**identifiers, **extra}, **(task_kwargs or {}),
    )


def publish(contract: Contract, settings: Settings, identifiers: dict[str, Any]) -> list[BaseOperator]:
    """Load tables into the feed's raw and deadletter tables, stamped with the batch."""
    specs = tables.table_specs(contract)
    return [
        query(
            settings, identifiers, f"publish_{kind}", "publish_batch.sql", BATCH_PARAMETERS,
            target_table=identifiers[f"{kind}_table"],
            load_output=output,
            target_columns=specs[kind].field_names(),
            task_kwargs={"pre_execute": skip_in_dry_run},
            extra_columns=kind == "raw",
        )
        for kind, output in (("raw", "valid"), ("deadletter", "deadletter"))
    ]


def record_audit(settings: Settings, identifiers: dict[str, Any]) -> BaseOperator:
    parameters = [
        *BATCH_PARAMETERS,
        sql.query_parameter("attempt", "INT64", xcom("attempt")),
        sql.query_parameter("dag_run_id", "STRING", "{{ run_id }}"),
        sql.query_parameter("dry_run", "BOOL", "{{ 'true' if params.get('dry_run') else 'false' }}"),
    ]
    # Runs when the loads succeeded and the publishes did too or were skipped (a dry run).
    return query(
        settings, identifiers, "record_audit", "record_audit.sql", parameters,
        task_kwargs={"trigger_rule": "none_failed_min_one_success"},
    )


def merge_staging(contract: Contract, settings: Settings, identifiers: dict[str, Any]) -> BaseOperator:
    """A partitioned feed's MERGE touches only the days check_batch found in the batch; its
    success is the staging table's asset event."""
    parameters = list(BATCH_PARAMETERS)
    if identifiers["partition_day"]:
        parameters += [
            sql.query_parameter(name, "DATE", f"{{{{ ti.xcom_pull(task_ids='check_batch')['{name}'] }}}}")
            for name in ("partition_min", "partition_max")
        ]
    return query(settings, identifiers, "merge_staging", "merge_staging.sql", parameters, extra_columns=True,
                 task_kwargs={"pre_execute": skip_in_dry_run, "post_execute": assets.name_the_batch,
                              "outlets": [assets.staging_asset(contract.feed, settings)]})


def refresh_views(contract: Contract, settings: Settings) -> list[BaseOperator]:
    return [
        insert_job(
            settings,
            f"refresh_{view.name}",
            sql.query_job(sql.refresh_statement(sql.reporting_view_ref(settings, view)), []),
            retries=4,
            outlets=[assets.view_asset(view, settings)],
            pre_execute=lineage.report_view_refresh(settings, contract, view.name),
            post_execute=assets.name_the_batch,
        )
        for view in contract.reporting
    ]


def build_dag(contract: Contract, settings: Settings) -> DAG:
    """The feed's DAG: the tasks of the flow in the module docstring, wired in order."""
    identifiers = sql.template_params(settings, contract)  # SQL identifiers, not run params
    with feed_dag(contract, settings) as dag:
        choose = tasks.choose_source(contract, settings)
        wait = wait_for_files(contract, settings)
        claim = tasks.claim_files(contract, settings)
        loads = {output: load_output(contract, settings, output) for output in tables.LOAD_OUTPUTS}
        evolved = tasks.evolve_columns(contract, settings)
        publishes = publish(contract, settings, identifiers)
        checked = tasks.check_batch(contract, settings)
        refreshes = refresh_views(contract, settings)
        # Also after a dry run, whose merge and refreshes were skipped (it puts its copies away).
        settled = tasks.settle_files.override(trigger_rule="none_failed_min_one_success")(
            contract, settings, claim["claim"], checked
        )
        audited = record_audit(settings, identifiers)

        chain(choose, [wait, claim])
        validated = validate_rows(contract, settings, claim["launch"])
        chain(wait, claim, clear_outputs(contract, settings), validated, [loads["deadletter"], loads["summary"]])
        # The valid rows' load schema waits for the columns the summary says the files add.
        chain(loads["summary"], evolved, loads["valid"])
        cross_downstream(list(loads.values()), publishes)
        cross_downstream(list(loads.values()), [audited])  # the audit needs the loads, even when publishing is skipped
        chain(publishes, audited, checked, merge_staging(contract, settings, identifiers),
              *([refreshes] if refreshes else []), settled, tasks.drop_load_tables(contract, settings))
    return dag


def build_all(settings: Settings | None = None) -> dict[str, DAG]:
    """One DAG per contract, by dag_id (what the DAG file puts in its globals)."""
    settings = settings or from_env()
    contracts = load_contracts(settings.contracts_dir)
    return {naming.dag_id(c.feed): build_dag(c, settings) for c in contracts.values()}
