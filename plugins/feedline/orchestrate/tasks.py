"""The DAG's Python tasks, at module level: each takes the feed's contract and the settings as
arguments (``tasks.claim_files(contract, settings)`` in dag_factory), and Airflow's context by
keyword. The work is in small plain functions beside them, testable without a DAG run.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook
from airflow.providers.google.cloud.hooks.gcs import GCSHook
from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook
from airflow.sdk import task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from feedline.contract import naming
from feedline.contract.model import Contract
from feedline.orchestrate import alerts, audit, backfill, bq_calls, columns, events, launch, lineage, params, sql
from feedline.settings import Settings
from feedline.storage import claims

log = logging.getLogger(__name__)

GCP_CONN_ID = "google_cloud_default"
CLAIM_TASK = "claim_files"


def send_slack(settings: Settings, text: str) -> None:
    SlackWebhookHook(slack_webhook_conn_id=settings.slack_conn_id).send(text=text)


def fail_if(reason: str | None) -> None:
    """Fail the task without retries (retrying cannot change the batch's data)."""
    if reason:
        raise AirflowFailException(reason)


def gcs_client():
    return GCSHook(gcp_conn_id=GCP_CONN_ID).get_conn()


def is_backfill(run_params: dict[str, Any], dag_run) -> bool:
    return bool(run_params["from_archive"]) or dag_run.run_type == "backfill"


def batch_of_run(contract: Contract, dag_run) -> str:
    """The run's batch. A backfill's is its own even when the backfill reprocesses a run that
    already exists: Airflow then clears that run and makes it a backfill run with the same run
    id, and the scheduled batch it was must stay as it was (its files, its raw rows)."""
    return naming.batch_id_for_dag_run(contract.feed, dag_run.run_id, dag_run.run_type)


def claim_date(run_params: dict[str, Any], from_archive: bool, logical_date: datetime) -> str | None:
    """The date of the files to claim: the run's ``date``; a backfill without one takes its
    logical date's files (its day in UTC) from the archive."""
    if from_archive and not run_params["date"]:
        return backfill.archive_day(logical_date)
    return run_params["date"]


def idle_backfill_tick(contract: Contract, dag_run, logical_date: datetime | None) -> str | None:
    """Why this run has nothing to do: a backfill run that is not its day's first tick (that one
    re-ingests the day's archive). Depends on run type, logical date and schedule only, so every
    try and clear of a run decides the same."""
    if dag_run.run_type != "backfill" or logical_date is None or backfill.claims_its_day(contract.schedule, logical_date):
        return None
    first = backfill.first_tick_of_day(contract.schedule, logical_date)
    return (
        f"backfill run for {logical_date.isoformat()} has nothing to do: the {contract.feed} archive of "
        f"{backfill.archive_day(logical_date)} is re-ingested by that day's first tick ({first.isoformat()})"
    )


def ingested_at(dag_run) -> str:
    """The batch's ingestion time: when its run was due, so a re-run stamps the same value."""
    return dag_run.run_after.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def launch_options(settings: Settings, contract: Contract, batch_id: str, ingested_at: str) -> dict[str, Any]:
    """What validate_rows starts the Beam job with: DirectRunner pipeline options locally, the
    flex template launch body in the cloud (one spec, so both carry the same parameters)."""
    spec = launch.launch_spec(settings, contract, batch_id, ingested_at)
    if settings.runner == "direct":
        return launch.direct_runner_options(spec)
    return launch.flex_template_body(settings, spec)


def bigquery_client(settings: Settings):
    """google.cloud.bigquery.Client of the DAG's connection (BigQueryHook's)."""
    return BigQueryHook(gcp_conn_id=GCP_CONN_ID, use_legacy_sql=False).get_client(
        project_id=settings.project, location=settings.bq_location
    )


CLAIM_QUARANTINE_SQL = "audit/record_claim_quarantine.sql"


def record_claim_quarantine(
    client, settings: Settings, contract: Contract, batch_id: str, attempt: int, dag_run_id: str,
    quarantined: dict[str, str], dry_run: bool,
) -> None:
    """An audit row for each landing object the claim quarantined (path below the feed's
    prefix -> reason): the audit accounts for every object, also those no Beam job read.
    Every value, the object's name included, is a query parameter."""
    from google.cloud import bigquery

    statement = sql.render(settings, CLAIM_QUARANTINE_SQL, params=sql.template_params(settings, contract))
    scalar = bigquery.ScalarQueryParameter
    for source_file, reason in sorted(quarantined.items()):
        config = bigquery.QueryJobConfig(query_parameters=[
            scalar("batch_id", "STRING", batch_id), scalar("attempt", "INT64", attempt),
            scalar("dag_run_id", "STRING", dag_run_id), scalar("source_file", "STRING", source_file),
            scalar("reason", "STRING", reason), scalar("dry_run", "BOOL", dry_run),
        ])
        bq_calls.query_rows(client, statement, config)


def checks_for_duplicates(run_params: dict[str, Any], from_archive: bool) -> bool:
    """A backfill re-ingests on purpose, and so does a run with ``force_reingest``."""
    return not (from_archive or params.flag(run_params, "force_reingest"))


def set_aside_duplicates(
    gcs, settings: Settings, contract: Contract, claim: claims.Claim, dag_run_id: str, dry_run: bool
) -> tuple[claims.Claim, dict[str, dict]]:
    """Take out of the claim the files whose content an earlier batch ingested: each gets a
    'duplicate' audit row naming that batch and is archived now, or quarantined again when that
    batch quarantined it (a dry run removes its copy),
    and one message says so. Returns the claim of the files left to validate, and the
    duplicates (name -> first ingestion). The audit rows go first: a retry after a fault finds
    what is still in processing and does the rest again."""
    checksums = {f.name: f.checksum for f in claim.files if f.checksum}
    if not checksums:
        return claim, {}
    bq = bigquery_client(settings)
    ingested = audit.ingested_before(bq, settings, contract, claim.batch_id, list(checksums.values()))
    duplicates = audit.duplicate_files(checksums, ingested)
    if not duplicates:
        return claim, {}
    audit.record_duplicates(bq, settings, contract, claim.batch_id, claim.attempt, dag_run_id, duplicates, dry_run)
    text = alerts.duplicates_text(contract.feed, claim.batch_id, duplicates, dry_run)
    log.info("%s", text)
    send_slack(settings, text)
    aside = claim.only(duplicates)
    if dry_run:
        claims.release_copies(gcs, settings, contract, aside)
    else:
        claims.settle_files(gcs, settings, contract, aside, audit.quarantined_again(duplicates))
    return claim.without(duplicates), duplicates


def skip_without_files(context: dict[str, Any]) -> None:
    """Pre-execute hook of the first task after the claim: a claim whose every file was a
    duplicate leaves nothing to validate, so the batch's remaining tasks are skipped."""
    claimed = context["ti"].xcom_pull(task_ids=CLAIM_TASK, key="claim")
    if not claimed["files"]:
        raise AirflowSkipException("every claimed file is a duplicate of an ingested one: nothing to validate")


@task.branch
def choose_source(contract: Contract, settings: Settings, **context) -> str:
    """Sweep the landing prefix (wait), or go straight to claiming: files named in the run's
    params, a backfill from the archive, or a re-run taking its own files back."""
    run_params, dag_run = context["params"], context["dag_run"]
    # First, before anything touches data: a conf key that is no param (a typo) fails the run.
    fail_if(params.unknown_keys_error(dag_run.conf))
    idle = idle_backfill_tick(contract, dag_run, context.get("logical_date"))
    if idle:
        raise AirflowSkipException(idle)  # skips the whole run: no claim, no Beam job
    if params.file_list(run_params) or is_backfill(run_params, dag_run):
        return CLAIM_TASK
    batch_id = batch_of_run(contract, dag_run)
    rerun = claims.has_manifest(gcs_client(), settings, contract, batch_id)
    return CLAIM_TASK if rerun else "wait_for_files"


@task(multiple_outputs=True, trigger_rule="none_failed_min_one_success")
def claim_files(contract: Contract, settings: Settings, **context) -> dict[str, Any]:
    """Move this batch's files out of the landing prefix so no other run takes them."""
    run_params, dag_run = context["params"], context["dag_run"]
    feed, batch_id = contract.feed, batch_of_run(contract, dag_run)
    from_archive = is_backfill(run_params, dag_run)
    # A manual run triggered without a logical date has none in its context: its day is when it ran.
    file_date = claim_date(run_params, from_archive, context.get("logical_date") or dag_run.run_after)
    dry_run, gcs = params.flag(run_params, "dry_run"), gcs_client()
    claim = claims.claim_files(
        gcs, settings, contract, batch_id, params.file_list(run_params) or None, file_date, from_archive,
        copy_only=dry_run,
    )
    if claim.misnamed:
        quarantined = {naming.relative_name(feed, obj): reason for obj, reason in claim.misnamed.items()}
        record_claim_quarantine(
            bigquery_client(settings), settings, contract, batch_id, claim.attempt, dag_run.run_id, quarantined, dry_run,
        )
        send_slack(settings, alerts.quarantine_text(feed, batch_id, quarantined))
    taken = alerts.taken_text(feed, claim.taken_batches()) if claim.taken else None
    if taken:
        log.warning("%s", taken)
    if not claim.files:
        raise AirflowSkipException(taken or f"no {feed} files to claim")
    if checks_for_duplicates(run_params, from_archive):
        # An empty claim left here still succeeds: its files were handled (audited, archived);
        # skip_without_files then skips validation and everything after it.
        claim, _ = set_aside_duplicates(gcs, settings, contract, claim, dag_run.run_id, dry_run)
    lineage.report(context.get("task"), lineage.claimed_inputs(settings, contract, claim),
                   [lineage.processing_uri(settings, contract, batch_id)])
    stamp = ingested_at(dag_run)
    return {
        "batch_id": batch_id,
        "ingested_at": stamp,
        "attempt": claim.attempt,
        "claim": claim.to_xcom(),
        "launch": launch_options(settings, contract, batch_id, stamp),
    }


@task(task_id=sql.EVOLVE_TASK)
def evolve_columns(contract: Contract, settings: Settings, **context) -> list[str]:
    """schema_drift evolve: add the columns the batch's files bring to raw and staging (not in a
    dry run), and write the valid output's load schema with the evolved columns its files hold
    (pushed as ``loaded_columns``). Returns the evolved columns the tables hold, which
    publish_raw and merge_staging carry."""
    ti = context["ti"]
    batch_id = ti.xcom_pull(task_ids=CLAIM_TASK, key="batch_id")
    client = bigquery_client(settings)
    added, written = columns.batch_added_columns(client, settings, contract, batch_id)
    fail_if(added and contract.schema_drift.extra_columns != "evolve" and (
        f"the Beam job added columns {added} but the {contract.feed} contract's schema_drift.extra_columns is "
        f"{contract.schema_drift.extra_columns!r}: the job read another contract (FEEDLINE_CONTRACTS_URI)"
    ))
    if added and not params.flag(context.get("params", {}), "dry_run"):
        log.info("schema_drift evolve: added %s", columns.evolve_tables(client, settings, contract, added) or "nothing new")
    carried = columns.carried_columns(client, settings, contract)
    schema = columns.valid_load_schema(contract, written)
    ti.xcom_push(key=sql.LOADED_COLUMNS_KEY, value=written)
    gcs_client().bucket(settings.work_bucket).blob(
        naming.output_prefix(contract.feed, batch_id) + columns.VALID_SCHEMA_OBJECT
    ).upload_from_string(json.dumps(schema), content_type="application/json")
    return carried


@task
def check_batch(contract: Contract, settings: Settings, **context) -> dict[str, Any]:
    """Prove rows read = loaded + deadlettered per file; alert on quarantine and on a
    deadletter share above the feed's threshold, the batch's or any file's (and stop the batch
    if it says fail)."""
    ti = context["ti"]
    batch_id, attempt, stamp = (
        ti.xcom_pull(task_ids=CLAIM_TASK, key=key) for key in ("batch_id", "attempt", "ingested_at")
    )
    client = bigquery_client(settings)
    report = audit.inspect_batch(client, settings, contract, batch_id, attempt, stamp)
    log.info("%s", audit.audit_line(contract.feed, batch_id, report))
    events.emit(settings, events.batch_audited(settings, contract, context.get("run_id", ""), batch_id, attempt, report))
    fail_if(audit.lost_rows_error(report))
    if params.flag(context.get("params", {}), "dry_run"):
        # One summary of what the batch would do, the threshold included; a dry run stops nothing.
        send_slack(settings, alerts.dry_run_text(
            contract.feed, batch_id, report, audit.batch_above_threshold(contract, report),
            audit.files_above_threshold(contract, report),
        ))
        return report
    for text in audit.alert_texts(contract, batch_id, report):
        send_slack(settings, text)
    fail_if(audit.threshold_error(contract, report))
    return report


# Returns name -> place: one XCom. TaskFlow infers multiple_outputs from a ``dict`` return
# annotation, which would make each file name an XCom key in an Execution API URL (a non-latin-1
# name fails the task after its files were settled).
@task(multiple_outputs=False)
def settle_files(contract: Contract, settings: Settings, claim_data: dict, report: dict, **context) -> dict[str, str]:
    """Archive accepted files; quarantine rejected ones with their reason. A dry run only
    removes its copies (the files are still in landing)."""
    claim = claims.Claim.from_xcom(claim_data)
    if not claim.files:
        # Every file was a duplicate, set aside by the claim. (This task still starts: the claim
        # is one of its upstreams and succeeded, and its trigger rule lets one success through.)
        raise AirflowSkipException("nothing to settle: the claim archived its duplicates itself")
    if params.flag(context.get("params", {}), "dry_run"):
        return claims.release_copies(gcs_client(), settings, contract, claim)
    places = claims.settle_files(gcs_client(), settings, contract, claim, report["quarantined"])
    lineage.report(context.get("task"), [lineage.processing_uri(settings, contract, claim.batch_id)],
                   lineage.settled_outputs(places.values()))
    # Only now is the batch ingested: its checksums make a later drop of the same bytes a duplicate.
    checksums = {f.name: f.checksum for f in claim.files if f.checksum}
    if checksums:
        audit.record_checksums(bigquery_client(settings), settings, contract, claim.batch_id, claim.attempt, checksums)
    return places


@task
def drop_load_tables(contract: Contract, settings: Settings, **context) -> list[str]:
    """The batch is settled: its load tables go. (A failed batch keeps them for a Clear and for
    inspection; the load dataset's default table expiration removes them in the end.)"""
    client = bigquery_client(settings)
    dropped = list(sql.load_tables_for_run(settings, contract, context["dag_run"].run_id, context["dag_run"].run_type).values())
    for table in dropped:
        client.delete_table(table, not_found_ok=True)
    return dropped
