"""Feed DAGs under a real scheduler, triggerer, dag-processor and api-server (tests/airflow_services.py):
what ``airflow dags test`` cannot show. Deadline alerts are marked missed by the scheduler and
sent by the triggerer, so they are tested here."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
import yaml

from feedline.contract.model import REPOSITORY_CONTRACTS_DIR
from feedline.local.slack_receiver import read_alerts
from airflow_services import airflow_services, free_port
from support import reset

pytestmark = pytest.mark.airflow


def contracts_dir(tmp_path, **changes: dict) -> str:
    """The repository's contracts with some fields changed, by feed (tables stay the same)."""
    folder = tmp_path / "contracts"
    folder.mkdir()
    for path in REPOSITORY_CONTRACTS_DIR.glob("*.yaml"):
        raw = yaml.safe_load(path.read_text())
        raw.update(changes.get(raw["feed"], {}))
        (folder / path.name).write_text(yaml.safe_dump(raw, sort_keys=False))
    return str(folder)


def deadline_alerts(local_stack, feed: str) -> list[dict]:
    return [a for a in read_alerts(local_stack.alerts_file)
            if "deadline" in a["payload"].get("text", "") and f"*{feed}*" in a["payload"]["text"]]


def queued_at(run: dict) -> float:
    return datetime.fromisoformat(run["queued_at"].replace("Z", "+00:00")).timestamp()


def test_a_run_past_its_deadline_alerts_slack_and_a_run_on_time_stays_quiet(
    local_stack, settings, contracts, tmp_path
):
    reset(settings, contracts)
    folder = contracts_dir(
        tmp_path,
        customers={"schedule": None, "deadline_minutes": 0.25},  # 15 s: a sweep waiting for files misses it
        transactions={"schedule": None, "deadline_minutes": 1},
    )
    env = {"FEEDLINE_CONTRACTS_DIR": folder, "FEEDLINE_CONTRACTS_URI": folder}
    with airflow_services(local_stack, tmp_path / "airflow", free_port(), env) as airflow:
        airflow.wait_for_dag("feedline_customers")
        airflow.wait_for_dag("feedline_transactions")
        # late: nothing in landing, so the run waits in wait_for_files (deferred) past its 15 s
        late = airflow.trigger("feedline_customers")
        # on time: asks for a file another batch took (none here): ends within seconds
        on_time = airflow.trigger("feedline_transactions", {"files": ["transactions_20261127.csv"]})

        sent = airflow.wait_until("the deadline alert", lambda: deadline_alerts(local_stack, "customers"), 240)
        text = sent[0]["payload"]["text"]
        assert late["dag_run_id"] in text and "deadline of 0.25 minutes" in text, text
        assert airflow.run("feedline_customers", late["dag_run_id"])["state"] == "running"
        late_by = datetime.fromisoformat(sent[0]["received_at"]).timestamp() - queued_at(late) - 15
        print(f"deadline alert sent {late_by:.1f} s after the deadline")

        done = airflow.wait_until(
            "the on-time run ends",
            lambda: (r := airflow.run("feedline_transactions", on_time["dag_run_id"]))["state"] in ("success", "failed") and r,
            240,
        )
        assert done["state"] == "success", airflow.task_states("feedline_transactions", on_time["dag_run_id"])
        # wait past its deadline (1 minute after queueing) and a few scheduler loops more
        time.sleep(max(0.0, queued_at(done) + 60 + 20 - time.time()))
        assert deadline_alerts(local_stack, "transactions") == []
        assert len(deadline_alerts(local_stack, "customers")) == 1  # one alert per missed run
