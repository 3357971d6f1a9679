"""Run one DAG run in this process through Airflow's own ``DAG.test`` (what ``airflow dags
test`` does), with a chosen ``run_after``. Running it again with the same ``run_after``
re-runs the same DAG run (same run id, so the same batch): DAG.test clears its task instances
and runs them all again, as the UI's Clear does, so tests can show what a re-run changes.

    python -m feedline.local.run_dag feedline_transactions --run-after 2026-11-20T00:00:00+00:00
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dag_id")
    parser.add_argument("--run-after", required=True, type=datetime.fromisoformat)
    parser.add_argument("--logical-date", type=datetime.fromisoformat, default=None)
    parser.add_argument("--conf", type=json.loads, default=None, help="DAG run conf (params) as JSON")
    args = parser.parse_args(argv)
    # No lineage from a DAG.test run: its tasks share one process, whose hook lineage collector
    # Airflow never resets between tasks, so each task would also report the ones before it (the
    # real scheduler runs a process per task: tests/e2e checks its lineage). And the listener's
    # extra metadata-DB work makes SQLite's "database is locked" likelier for runs side by side.
    os.environ["AIRFLOW__OPENLINEAGE__DISABLED"] = "true"

    from airflow.cli.commands.dag_command import get_bagged_dag
    from airflow.utils.providers_configuration_loader import providers_configuration_loaded

    logical_date = args.logical_date or args.run_after

    @providers_configuration_loaded
    def run() -> str:
        dag = get_bagged_dag(bundle_names=None, dag_id=args.dag_id)
        # DAG.test of Airflow 3.3.2 fails at the end of a successful run of a DAG with a deadline
        # (see dag_factory.runs_under_dags_test); nothing evaluates deadlines here anyway.
        dag.deadline = None
        run = dag.test(run_after=args.run_after, logical_date=logical_date, run_conf=args.conf)
        return str(run.state)

    state = run()
    print(f"feedline run_dag: {args.dag_id} run_after={args.run_after.isoformat()} state={state}")
    return 0 if state == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
