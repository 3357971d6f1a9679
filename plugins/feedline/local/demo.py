"""``make demo``: the whole pipeline on one machine, then what landed where.

Starts the local stack (emulators, Slack receiver, Airflow metadata DB), drops the committed
sample files into the landing bucket, runs each feed's DAG to the end with ``airflow dags
test`` (the real scheduler code path for one run, real operators against the emulators) and
prints staging, deadletter, audit and reporting contents and the alerts the receiver got.
Running it again drops the same files again: staging and reporting must not change.
"""

from __future__ import annotations

import time
from pathlib import Path

from feedline.contract import naming
from feedline.contract.model import load_contracts
from feedline.local import stack
from feedline.settings import REPO_ROOT, from_env

SAMPLES = REPO_ROOT / "samples"


def run_feed_dag(config: stack.StackConfig, feed: str, log_dir: Path) -> tuple[bool, float]:
    started = time.monotonic()
    result = stack.airflow(config, "dags", "test", naming.dag_id(feed), check=False, capture=True)
    log = log_dir / f"dags-test-{naming.dag_id(feed)}.log"
    log.write_text(result.stdout or "")
    return result.returncode == 0, time.monotonic() - started


def run_demo() -> int:
    config = stack.StackConfig.from_env()
    print("== Starting the local stack (GCS + BigQuery emulators, Slack receiver, Airflow DB)")
    stack.up(config)
    stack.apply_env(config)

    from feedline.local import provision, report

    settings = from_env()
    contracts = load_contracts(settings.contracts_dir)
    provision.provision(settings, contracts)
    stack.init_airflow(config)
    alerts_before = len(stack_alerts(config))

    print(f"== Dropping the sample files into gs://{settings.landing_bucket}/")
    bucket = provision.storage_client(settings.project).bucket(settings.landing_bucket)
    for path in sorted(SAMPLES.glob("*.csv*")):
        feed = next((c.feed for c in contracts.values() if path.name.startswith(c.feed + "_")), None)
        if feed is None:
            continue
        bucket.blob(f"{feed}/{path.name}").upload_from_filename(str(path))
        print(f"   {feed}/{path.name}")

    outcomes = {}
    for feed in contracts:
        print(f"== Running DAG {naming.dag_id(feed)} through Airflow (airflow dags test)")
        ok, seconds = run_feed_dag(config, feed, config.root / "logs")
        outcomes[feed] = ok
        print(f"   {'succeeded' if ok else 'FAILED'} in {seconds:.0f}s (log: {config.root}/logs/dags-test-{naming.dag_id(feed)}.log)")

    print()
    print(report.render(settings, contracts, stack_alerts(config)[alerts_before:]))
    failed = [feed for feed, ok in outcomes.items() if not ok]
    if failed:
        print(f"\nDAG runs failed: {', '.join(failed)}")
        return 1
    print("\nRun `make demo` again: the same files are ingested again and staging/reporting stay the same.")
    return 0


def stack_alerts(config: stack.StackConfig) -> list[dict]:
    from feedline.local.slack_receiver import read_alerts

    return read_alerts(config.alerts_file)
