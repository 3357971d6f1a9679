"""Deployment settings, read from environment variables only (cheap enough for DAG parsing).

Composer sets these from Terraform; the local stack sets them for its Airflow and Beam runs.
Every ``FEEDLINE_*`` variable Feedline's package reads is read here, and nowhere else
(the trigger function in ``triggers/`` is deployed without this package and reads its own).
``REPO_ROOT`` is the one place the repository's root is computed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    env: str  # local | dev | prod
    project: str
    region: str
    bq_location: str
    landing_bucket: str
    archive_bucket: str
    quarantine_bucket: str
    work_bucket: str  # Beam outputs and Dataflow temp/staging
    runner: str  # direct (local Beam) | dataflow (flex template)
    slack_conn_id: str
    pagerduty_conn_id: str | None
    template_spec_path: str | None  # gs://.../feedline-ingest.json (flex template spec)
    dataflow_service_account: str | None
    dataflow_subnetwork: str | None
    contracts_uri: str  # where the Beam job reads contracts: a folder path or gs:// prefix
    sql_dir: Path
    max_active_runs: int  # runs of one feed at once (each batch has its own intermediates)
    beam_pool: str  # Airflow pool bounding the Beam jobs running at once (all feeds)
    beam_pool_slots: int  # its size: local init_airflow and the cloud deploy create it with this
    contracts_dir: Path  # where the DAG side reads contracts (Composer: the bucket's data/ folder)
    beam_pipeline: Path  # the Beam job's module, run by the DirectRunner locally

    @property
    def is_production(self) -> bool:
        return self.env == "prod"


def from_env(environ: Mapping[str, str] | None = None) -> Settings:
    e = os.environ if environ is None else environ
    env = e.get("FEEDLINE_ENV", "local")
    project = e.get("FEEDLINE_PROJECT", "feedline-local")
    prefix = e.get("FEEDLINE_BUCKET_PREFIX", "feedline")
    return Settings(
        env=env,
        project=project,
        region=e.get("FEEDLINE_REGION", "europe-west1"),
        bq_location=e.get("FEEDLINE_BQ_LOCATION", "US" if env == "local" else "EU"),
        landing_bucket=e.get("FEEDLINE_LANDING_BUCKET", f"{prefix}-landing"),
        archive_bucket=e.get("FEEDLINE_ARCHIVE_BUCKET", f"{prefix}-archive"),
        quarantine_bucket=e.get("FEEDLINE_QUARANTINE_BUCKET", f"{prefix}-quarantine"),
        work_bucket=e.get("FEEDLINE_WORK_BUCKET", f"{prefix}-work"),
        runner=e.get("FEEDLINE_RUNNER", "direct" if env == "local" else "dataflow"),
        slack_conn_id=e.get("FEEDLINE_SLACK_CONN_ID", "feedline_slack"),
        pagerduty_conn_id=e.get("FEEDLINE_PAGERDUTY_CONN_ID") or None,
        template_spec_path=e.get("FEEDLINE_TEMPLATE_SPEC") or None,
        dataflow_service_account=e.get("FEEDLINE_DATAFLOW_SA") or None,
        dataflow_subnetwork=e.get("FEEDLINE_DATAFLOW_SUBNETWORK") or None,
        contracts_uri=e.get("FEEDLINE_CONTRACTS_URI", str(REPO_ROOT / "contracts")),
        sql_dir=Path(e.get("FEEDLINE_SQL_DIR", str(REPO_ROOT / "sql"))),
        max_active_runs=int(e.get("FEEDLINE_MAX_ACTIVE_RUNS", "4")),
        beam_pool=e.get("FEEDLINE_BEAM_POOL", "feedline_beam"),
        beam_pool_slots=int(e.get("FEEDLINE_BEAM_POOL_SLOTS", "2")),
        contracts_dir=Path(e.get("FEEDLINE_CONTRACTS_DIR") or REPO_ROOT / "contracts"),
        beam_pipeline=Path(
            e.get("FEEDLINE_BEAM_PIPELINE") or REPO_ROOT / "beam_jobs" / "feedline_beam" / "pipeline.py"
        ),
    )


@dataclass(frozen=True)
class LocalSettings:
    """Where the local stack keeps its data and which ports its services listen on."""

    root: Path
    gcs_port: int = 9023
    bq_port: int = 9050
    bq_grpc_port: int = 9060
    slack_port: int = 9031
    airflow_port: int = 8080
    airflow_log_port: int = 8793
    # Off by default: runs start as a user or the event function starts them (UI, REST API),
    # so a cron sweep never takes the files of a run started for them (FEEDLINE_AIRFLOW_SCHEDULES=1).
    airflow_schedules: bool = False


def local_from_env(environ: Mapping[str, str] | None = None) -> LocalSettings:
    e = os.environ if environ is None else environ
    return LocalSettings(
        root=Path(e.get("FEEDLINE_LOCAL_DIR", str(REPO_ROOT / ".local"))).resolve(),
        gcs_port=int(e.get("FEEDLINE_GCS_PORT", LocalSettings.gcs_port)),
        bq_port=int(e.get("FEEDLINE_BQ_PORT", LocalSettings.bq_port)),
        bq_grpc_port=int(e.get("FEEDLINE_BQ_GRPC_PORT", LocalSettings.bq_grpc_port)),
        slack_port=int(e.get("FEEDLINE_SLACK_PORT", LocalSettings.slack_port)),
        airflow_port=int(e.get("FEEDLINE_AIRFLOW_PORT", LocalSettings.airflow_port)),
        airflow_log_port=int(e.get("FEEDLINE_AIRFLOW_LOG_PORT", LocalSettings.airflow_log_port)),
        airflow_schedules=e.get("FEEDLINE_AIRFLOW_SCHEDULES", "0").lower() in ("1", "true", "yes"),
    )
