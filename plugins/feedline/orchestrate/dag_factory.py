"""Builds one ingestion DAG per feed contract.

    choose_source -> [wait_for_files ->] claim_files -> clear_outputs -> validate_rows
      -> load_valid, load_deadletter, load_summary -> publish_raw, publish_deadletter
      -> record_audit -> check_batch -> merge_staging -> refresh_<view>... -> settle_files

Everything that talks to a service is an Airflow Google operator or a task using Airflow's
hooks, with retries and a Slack notification on failure. Nothing here does I/O when the DAG
file is parsed: settings come from environment variables, contracts from the package's files.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow.providers.apache.beam.operators.beam import BeamRunPythonPipelineOperator
from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook
from airflow.providers.google.cloud.hooks.gcs import GCSHook
from airflow.providers.google.cloud.operators.bigquery import BigQueryInsertJobOperator
from airflow.providers.google.cloud.operators.dataflow import DataflowStartFlexTemplateOperator
from airflow.providers.google.cloud.operators.gcs import GCSDeleteObjectsOperator
from airflow.providers.google.cloud.sensors.gcs import GCSObjectsWithPrefixExistenceSensor
from airflow.providers.google.cloud.transfers.gcs_to_bigquery import GCSToBigQueryOperator
from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook
from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier
from airflow.sdk import DAG, Param, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from feedline.orchestrate import alerts, launch, sql
from feedline.storage import claims
from feedline.contract import naming, tables
from feedline.contract.model import Contract, load_contracts
from feedline.settings import Settings, from_env

log = logging.getLogger(__name__)

GCP_CONN_ID = "google_cloud_default"
START_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)
BEAM_PIPELINE = Path(__file__).resolve().parents[3] / "beam_jobs" / "feedline_beam" / "pipeline.py"


def xcom(key: str, task_id: str = "claim_files") -> str:
    """Template that pulls one value the batch's claim pushed."""
    return f"{{{{ ti.xcom_pull(task_ids='{task_id}', key='{key}') }}}}"


BATCH_PARAMETERS = [
    sql.query_parameter("batch_id", "STRING", xcom("batch_id")),
    sql.query_parameter("ingested_at", "TIMESTAMP", xcom("ingested_at")),
]


def failure_notifiers(settings: Settings) -> list:
    notifiers: list = [SlackWebhookNotifier(slack_webhook_conn_id=settings.slack_conn_id, text=alerts.TASK_FAILED)]
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
    return {
        "owner": "feedline",
        "retries": 2,
        "retry_delay": timedelta(seconds=5 if settings.env == "local" else 60),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(hours=2),
        "on_failure_callback": failure_notifiers(settings),
    }


def _send_slack(settings: Settings, text: str) -> None:
    SlackWebhookHook(slack_webhook_conn_id=settings.slack_conn_id).send(text=text)


def build_dag(contract: Contract, settings: Settings) -> DAG:
    feed = contract.feed
    params = sql.template_params(settings, contract)
    specs = tables.table_specs(contract)

    with DAG(
        dag_id=f"feedline_{feed}",
        description=contract.description or f"Ingest the {feed} feed",
        doc_md=__doc__,
        schedule=contract.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=settings.max_active_runs,
        dagrun_timeout=timedelta(hours=6),
        default_args=default_args(settings),
        template_searchpath=[str(settings.sql_dir)],
        tags=["feedline", f"feed:{feed}", f"env:{settings.env}"],
        params={
            "files": Param(
                [], type="array", items={"type": "string"},
                description="Only these objects of the landing bucket (names or paths); empty = all.",
            ),
            "date": Param(
                None, type=["null", "string"], pattern=r"^\d{8}$",
                description="Only files whose name carries this date (YYYYMMDD).",
            ),
            "from_archive": Param(
                False, type="boolean",
                description="Re-ingest the archived files of `date` (what a backfill does).",
            ),
        },
    ) as dag:

        @task.branch
        def choose_source(**context) -> str:
            """Sweep the landing prefix (wait), or go straight to claiming: files named in the
            run's params, a backfill from the archive, or a re-run taking its own files back."""
            p, dag_run = context["params"], context["dag_run"]
            if p["files"] or p["from_archive"] or dag_run.run_type == "backfill":
                return "claim_files"
            client = GCSHook(gcp_conn_id=GCP_CONN_ID).get_conn()
            rerun = claims.has_manifest(client, settings, contract, naming.batch_id_for_run(feed, dag_run.run_id))
            return "claim_files" if rerun else "wait_for_files"

        wait_for_files = GCSObjectsWithPrefixExistenceSensor(
            task_id="wait_for_files",
            bucket=settings.landing_bucket,
            prefix=naming.landing_prefix(feed),
            google_cloud_conn_id=GCP_CONN_ID,
            deferrable=True,
            poke_interval=30,
            timeout=600,
            soft_fail=True,  # nothing landed: the run is skipped, not failed
        )

        @task(multiple_outputs=True, trigger_rule="none_failed_min_one_success")
        def claim_files(**context) -> dict[str, Any]:
            """Move this batch's files out of the landing prefix so no other run takes them."""
            p, dag_run = context["params"], context["dag_run"]
            batch_id = naming.batch_id_for_run(feed, dag_run.run_id)
            from_archive = bool(p["from_archive"]) or dag_run.run_type == "backfill"
            file_date = p["date"]
            if from_archive and not file_date:
                file_date = context["logical_date"].strftime("%Y%m%d")
            client = GCSHook(gcp_conn_id=GCP_CONN_ID).get_conn()
            claim = claims.claim_files(
                client, settings, contract, batch_id, p["files"] or None, file_date, from_archive
            )
            if claim.misnamed:
                _send_slack(settings, alerts.quarantine_text(feed, batch_id, claim.misnamed))
            if not claim.files:
                raise AirflowSkipException(f"no {feed} files to claim")
            run_after = dag_run.run_after.astimezone(timezone.utc)
            ingested_at = run_after.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            spec = launch.launch_spec(settings, contract, batch_id, ingested_at)
            return {
                "batch_id": batch_id,
                "ingested_at": ingested_at,
                "attempt": claim.attempt,
                "claim": claim.to_xcom(),
                "launch": (
                    launch.direct_runner_options(spec)
                    if settings.runner == "direct"
                    else launch.flex_template_body(settings, spec)
                ),
            }

        claim = claim_files()

        clear_outputs = GCSDeleteObjectsOperator(
            task_id="clear_outputs",
            bucket_name=settings.work_bucket,
            prefix=naming.output_prefix(feed, xcom("batch_id")),
            gcp_conn_id=GCP_CONN_ID,
        )

        if settings.runner == "direct":
            validate_rows = BeamRunPythonPipelineOperator(
                task_id="validate_rows",
                py_file=str(BEAM_PIPELINE),
                runner="DirectRunner",
                pipeline_options=claim["launch"],
                py_interpreter=sys.executable,
                gcp_conn_id=GCP_CONN_ID,
            )
        else:
            validate_rows = DataflowStartFlexTemplateOperator(
                task_id="validate_rows",
                body=claim["launch"],
                location=settings.region,
                project_id=settings.project,
                gcp_conn_id=GCP_CONN_ID,
                append_job_name=False,  # the job name is per batch and must survive retries
                deferrable=True,  # waits for the job in the triggerer, not in a worker slot
            )

        loads = [
            GCSToBigQueryOperator(
                task_id=f"load_{output}",
                bucket=settings.work_bucket,
                source_objects=[f"{naming.output_prefix(feed, xcom('batch_id'))}{output}/*"],
                destination_project_dataset_table=sql.load_table_ref(settings, contract, output),
                schema_fields=tables.load_output_schema(contract, output),
                source_format="NEWLINE_DELIMITED_JSON",
                write_disposition="WRITE_TRUNCATE",
                create_disposition="CREATE_IF_NEEDED",
                autodetect=False,
                max_bad_records=0,
                location=settings.bq_location,
                gcp_conn_id=GCP_CONN_ID,
            )
            for output in tables.LOAD_OUTPUTS
        ]

        def query(task_id: str, template: str, parameters: list[dict], **extra_params) -> BigQueryInsertJobOperator:
            return BigQueryInsertJobOperator(
                task_id=task_id,
                configuration=sql.query_job(f"{{% include '{template}' %}}", parameters),
                params={**params, **extra_params},
                location=settings.bq_location,
                gcp_conn_id=GCP_CONN_ID,
            )

        publish = [
            query(
                f"publish_{kind}", "publish_batch.sql", BATCH_PARAMETERS,
                target_table=params[f"{kind}_table"],
                load_table=params[f"load_{output}_table"],
                target_columns=specs[kind].field_names(),
            )
            for kind, output in (("raw", "valid"), ("deadletter", "deadletter"))
        ]

        record_audit = query(
            "record_audit", "record_audit.sql",
            [
                *BATCH_PARAMETERS,
                sql.query_parameter("attempt", "INT64", xcom("attempt")),
                sql.query_parameter("dag_run_id", "STRING", "{{ run_id }}"),
            ],
        )

        @task
        def check_batch(**context) -> dict[str, Any]:
            """Prove rows read = loaded + deadlettered per file; alert on quarantine and on a
            deadletter share above the feed's threshold (and stop the batch if it says fail)."""
            ti = context["ti"]
            batch_id, attempt, ingested_at = (
                ti.xcom_pull(task_ids="claim_files", key=key) for key in ("batch_id", "attempt", "ingested_at")
            )
            client = BigQueryHook(gcp_conn_id=GCP_CONN_ID, use_legacy_sql=False).get_client(
                project_id=settings.project, location=settings.bq_location
            )
            report = inspect_batch(client, settings, contract, batch_id, attempt, ingested_at)
            # Parsed by the log-based metrics and alerts in terraform/modules/monitoring.
            log.info(
                "feedline_audit feed=%s batch_id=%s rows_read=%d rows_loaded=%d rows_deadletter=%d "
                "deadletter_share=%.6f", feed, batch_id, report["rows_read"], report["rows_loaded"],
                report["rows_deadletter"], report["share"],
            )
            if report["lost"]:
                raise AirflowFailException(f"rows lost between Beam and BigQuery: {report['lost']}")
            if report["quarantined"]:
                _send_slack(settings, alerts.quarantine_text(feed, batch_id, report["quarantined"]))
            if report["rows_read"] and report["share"] > contract.deadletter_threshold:
                _send_slack(
                    settings,
                    alerts.deadletter_text(
                        feed, batch_id, report["share"], contract.deadletter_threshold, contract.on_exceed,
                        report["rows_read"], report["rows_deadletter"], report["reasons"],
                    ),
                )
                if contract.on_exceed == "fail":
                    raise AirflowFailException(
                        f"deadletter share {report['share']:.2%} is above {contract.deadletter_threshold:.2%}"
                    )
            return report

        checked = check_batch()

        merge_parameters = list(BATCH_PARAMETERS)
        if params["partition_day"]:
            merge_parameters += [
                sql.query_parameter(name, "DATE", f"{{{{ ti.xcom_pull(task_ids='check_batch')['{name}'] }}}}")
                for name in ("partition_min", "partition_max")
            ]
        merge_staging = query("merge_staging", "merge_staging.sql", merge_parameters)

        refreshes = [
            BigQueryInsertJobOperator(
                task_id=f"refresh_{view.name}",
                configuration=sql.query_job(sql.refresh_statement(sql.reporting_view_ref(settings, view)), []),
                location=settings.bq_location,
                gcp_conn_id=GCP_CONN_ID,
                retries=4,
            )
            for view in contract.reporting
        ]

        @task
        def settle_files(claim_data: dict, report: dict) -> dict[str, str]:
            """Archive accepted files; quarantine rejected ones with their reason."""
            client = GCSHook(gcp_conn_id=GCP_CONN_ID).get_conn()
            return claims.settle_files(
                client, settings, contract, claims.Claim.from_xcom(claim_data), report["quarantined"]
            )

        settled = settle_files(claim["claim"], checked)

        choose = choose_source()
        choose >> [wait_for_files, claim]
        wait_for_files >> claim
        claim >> clear_outputs >> validate_rows >> loads
        for load in loads:
            load >> publish
        publish >> record_audit >> checked >> merge_staging
        if refreshes:
            merge_staging >> refreshes >> settled
        else:
            merge_staging >> settled
    return dag


def inspect_batch(client, settings: Settings, contract: Contract, batch_id: str, attempt: int, ingested_at: str) -> dict:
    """The batch's audit rows read back from BigQuery, with totals, reasons and partition range."""
    from google.cloud import bigquery

    p = sql.template_params(settings, contract)
    scalar = bigquery.ScalarQueryParameter
    job_config = bigquery.QueryJobConfig(
        query_parameters=[
            scalar("batch_id", "STRING", batch_id),
            scalar("attempt", "INT64", attempt),
            scalar("ingested_at", "TIMESTAMP", ingested_at),
        ]
    )

    def rows(statement: str, config=job_config) -> list[dict]:
        return [dict(r) for r in client.query(statement, job_config=config).result()]

    audit = rows(
        f"SELECT source_file, status, rows_read, rows_loaded, rows_deadletter, reason "
        f"FROM `{p['audit_table']}` WHERE batch_id = @batch_id AND attempt = @attempt"
    )
    reasons = rows(
        f"SELECT reason, COUNT(*) AS n FROM `{p['deadletter_table']}` "
        f"WHERE DATE(_ingested_at) = DATE(@ingested_at) AND _batch_id = @batch_id "
        f"GROUP BY reason ORDER BY n DESC, reason"
    )
    span = rows(
        f"SELECT MIN(partition_min) AS partition_min, MAX(partition_max) AS partition_max "
        f"FROM `{p['load_summary_table']}` WHERE file_error IS NULL",
        config=None,
    )[0]
    loaded = [a for a in audit if a["status"] == "loaded"]
    rows_read = sum(a["rows_read"] for a in loaded)
    rows_deadletter = sum(a["rows_deadletter"] for a in loaded)
    rows_loaded = sum(a["rows_loaded"] for a in loaded)
    empty_day = "1970-01-01"  # no valid rows: the MERGE's source is empty anyway
    return {
        "files": {a["source_file"]: a["status"] for a in audit},
        "quarantined": {a["source_file"]: a["reason"] for a in audit if a["status"] == "quarantined"},
        "lost": {
            a["source_file"]: a["rows_read"] - a["rows_loaded"] - a["rows_deadletter"]
            for a in loaded
            if a["rows_read"] != a["rows_loaded"] + a["rows_deadletter"]
        },
        "rows_read": rows_read,
        "rows_deadletter": rows_deadletter,
        "rows_loaded": rows_loaded,
        "share": rows_deadletter / rows_read if rows_read else 0.0,
        "reasons": [(r["reason"], r["n"]) for r in reasons],
        "partition_min": str(span["partition_min"] or empty_day),
        "partition_max": str(span["partition_max"] or empty_day),
    }


def build_all(settings: Settings | None = None) -> dict[str, DAG]:
    """One DAG per contract, by dag_id (what the DAG file puts in its globals)."""
    settings = settings or from_env()
    return {f"feedline_{c.feed}": build_dag(c, settings) for c in load_contracts().values()}
