"""Example, not deployed: a downstream DAG that starts when a transactions batch is staged.

Scheduled on the transactions staging table's Asset (feedline.orchestrate.assets), an outlet of
the feed DAG's merge_staging: a batch that reaches staging starts a run (events that arrive
before the scheduler creates it are consumed by that one run); a dry run or a run with nothing
to claim starts none. Its one task reports which batches it was started for and how many rows staging
holds now, where a real consumer would build its own tables.

tools/bundle.py ships dags/ only, so this never reaches Composer. To try it on the local stack,
copy it into a DAGs folder next to dags/feedline_feeds.py (README: "Downstream DAGs").
"""

from datetime import datetime, timezone

from airflow.sdk import DAG, task

from feedline.orchestrate.assets import staging_asset

TRANSACTIONS_STAGED = staging_asset("transactions")

with DAG(
    dag_id="example_transactions_staged",
    description="Example consumer of the transactions staging asset",
    schedule=[TRANSACTIONS_STAGED],
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["feedline", "example"],
):

    @task
    def report_staged_batches(triggering_asset_events=None) -> dict:
        """The batches that started this run, and staging's row count after them."""
        from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook

        from feedline.contract import tables
        from feedline.orchestrate import sql
        from feedline.orchestrate.tasks import GCP_CONN_ID
        from feedline.settings import from_env

        settings = from_env()
        events = triggering_asset_events[TRANSACTIONS_STAGED]
        staging = sql.table_ref(settings, *tables.table_location("transactions", "staging"))
        client = BigQueryHook(gcp_conn_id=GCP_CONN_ID, use_legacy_sql=False).get_client(
            project_id=settings.project, location=settings.bq_location
        )
        [row] = client.query(f"SELECT COUNT(*) AS n FROM `{staging}`").result()
        return {
            "batches": [e.extra.get("batch_id") for e in events],
            "source_runs": [e.source_run_id for e in events],
            "staging_rows": row["n"],
        }

    report_staged_batches()
