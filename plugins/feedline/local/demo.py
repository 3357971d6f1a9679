"""``make demo``: the whole pipeline on one machine, on the real Airflow scheduler.

Starts the local stack (emulators, Slack receiver, Airflow API server + UI, scheduler, DAG
processor, triggerer), drops the committed sample files into the landing bucket and starts each
feed's DAG run the way a user or the event function does: POST /api/v2/dags/{dag_id}/dagRuns
with the dropped files in ``conf``. It polls the runs until they finish, prints staging,
deadletter, audit and reporting contents and the alerts the receiver got, and leaves the stack
up so the runs can be explored in the UI (``feedline local down`` stops it). Running it again
drops the same files again: those an earlier run ingested are archived as duplicates without a
Beam job, so raw, staging and reporting do not change (the rejected sample is validated again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

from feedline.contract import naming
from feedline.contract.model import Contract, load_contracts
from feedline.local import stack
from feedline.local.airflow_api import AirflowApi, instant, wait_for_dag, wait_for_run
from feedline.settings import REPO_ROOT, Settings, from_env

SAMPLES = REPO_ROOT / "samples"


def sample_files(contracts: dict[str, Contract]) -> dict[str, list[str]]:
    """feed -> the sample files (names under samples/) that belong to it."""
    files: dict[str, list[str]] = {}
    for path in sorted(SAMPLES.glob("*.csv*")):
        feed = next((c.feed for c in contracts.values() if path.name.startswith(c.feed + "_")), None)
        if feed is not None:
            files.setdefault(feed, []).append(path.name)
    return files


def demo_run_id(feed: str, now: datetime) -> str:
    """A new run id per demo run (a re-run of the demo is a new batch, as a new drop is)."""
    return f"demo__{feed}__{now.strftime('%Y%m%dT%H%M%S')}"


def api_for(config: stack.StackConfig) -> AirflowApi:
    return AirflowApi(config.airflow_url, stack.AIRFLOW_USER, stack.ensure_password(config))


def drop_samples(settings, files: dict[str, list[str]]) -> dict[str, list[str]]:
    """Upload the samples under <feed>/; returns feed -> the object names dropped."""
    from feedline.local import provision

    bucket = provision.storage_client(settings.project).bucket(settings.landing_bucket)
    dropped = {}
    for feed, names in files.items():
        dropped[feed] = [f"{feed}/{name}" for name in names]
        for name, obj in zip(names, dropped[feed]):
            bucket.blob(obj).upload_from_filename(str(SAMPLES / name))
            print(f"   {obj}")
    return dropped


def prepare_dags(api: AirflowApi, dag_ids: list[str]) -> None:
    """Wait until the DAG processor has parsed each DAG, unpause it, and warn about runs still
    active from before (e.g. a cron sweep of a stack started with schedules on): they may take
    the files this demo drops."""
    for dag_id in dag_ids:
        wait_for_dag(api, dag_id)
        api.unpause(dag_id)
        active = api.active_runs(dag_id)
        if active:
            names = ", ".join(r["dag_run_id"] for r in active)
            print(f"   note: {dag_id} has active runs from before ({names}); they may claim the demo's files")


def trigger_and_wait(api: AirflowApi, dropped: dict[str, list[str]], now: datetime) -> dict[str, str]:
    """Trigger every feed's run first (the scheduler runs them side by side), then wait."""
    runs = {}
    for feed, objects in dropped.items():
        dag_id = naming.dag_id(feed)
        run_id = demo_run_id(feed, now)
        api.trigger(dag_id, run_id, {"files": objects})
        print(f"   {dag_id}: triggered {run_id} (conf files: {', '.join(objects)})")
        runs[feed] = (dag_id, run_id, time.monotonic())
    outcomes = {}
    for feed, (dag_id, run_id, started) in runs.items():
        wait_for_run(api, dag_id, run_id)
        outcomes[feed] = run_outcome(api, dag_id, run_id)
        print(f"   {dag_id} {run_id}: {outcomes[feed]} after {time.monotonic() - started:.0f}s"
              f" ({run_timings(api, dag_id, run_id)})")
    return outcomes


def run_outcome(api: AirflowApi, dag_id: str, run_id: str) -> str:
    """The run's state; a successful run whose claim was skipped ingested nothing (another run,
    e.g. a scheduled sweep, took its files), which the demo counts as a failure."""
    state = api.run(dag_id, run_id)["state"]
    claim = {ti["task_id"]: ti["state"] for ti in api.task_instances(dag_id, run_id)}.get("claim_files")
    if state == "success" and claim != "success":
        return f"success, but claim_files {claim}: no files ingested"
    return state


def run_timings(api: AirflowApi, dag_id: str, run_id: str) -> str:
    """Queued -> first task started -> run ended, from the scheduler's own timestamps."""
    run = api.run(dag_id, run_id)
    starts = [ti["start_date"] for ti in api.task_instances(dag_id, run_id) if ti["start_date"]]
    queued = instant(run["queued_at"])
    first = f"{(instant(min(starts)) - queued).total_seconds():.0f}s" if starts else "-"
    total = f"{(instant(run['end_date']) - queued).total_seconds():.0f}s" if run["end_date"] else "-"
    return f"queued to first task {first}, queued to end {total}"


@dataclass(frozen=True)
class Local:
    """The running local stack as the demo, the soak and the e2e bench use it."""

    config: stack.StackConfig
    settings: Settings
    contracts: dict[str, Contract]
    api: AirflowApi


def start_local(feeds: list[str] | None = None) -> Local:
    """Start the stack as `feedline local up` does (what runs stays), point this process at it,
    provision every contract's resources and wait until the DAGs of ``feeds`` (default: every
    contract's) are parsed and unpaused."""
    config = stack.StackConfig.from_env()
    print("== Starting the local stack (GCS + BigQuery emulators, Slack receiver, Airflow)")
    started = time.monotonic()
    stack.up(config, airflow=True)
    print(f"   healthy after {time.monotonic() - started:.0f}s")
    stack.apply_env(config)

    from feedline.local import provision

    settings = from_env()
    contracts = load_contracts(settings.contracts_dir)
    provision.provision(settings, contracts)
    api = api_for(config)
    prepare_dags(api, [naming.dag_id(feed) for feed in (feeds or contracts)])
    return Local(config, settings, contracts, api)


def run_demo() -> int:
    from feedline.local import report

    local = start_local()
    config, settings, contracts, api = local.config, local.settings, local.contracts, local.api
    alerts_before = len(stack_alerts(config))
    print(f"== Dropping the sample files into gs://{settings.landing_bucket}/")
    dropped = drop_samples(settings, sample_files(contracts))
    print("== Triggering each feed's DAG run on the Airflow scheduler (REST API) and waiting")
    outcomes = trigger_and_wait(api, dropped, datetime.now(timezone.utc))

    print()
    print(report.render(settings, contracts, stack_alerts(config)[alerts_before:]))
    print()
    print(ui_hint(config))
    failed = [feed for feed, state in outcomes.items() if state != "success"]
    if failed:
        print(f"\nDAG runs failed: {', '.join(failed)} (see their task logs in the UI)")
        return 1
    print("\nRun `make demo` again: the same files are recognised as duplicates (audit status `duplicate`), "
          "so raw, staging and reporting stay the same.")
    return 0


def ui_hint(config: stack.StackConfig) -> str:
    return (
        f"The stack stays up. Airflow UI: {config.airflow_url} (user {stack.AIRFLOW_USER}, password "
        f"{stack.airflow_password(config)}, kept in {config.passwords_file}).\n"
        "Stop everything with `feedline local down` (or `make local-down`)."
    )


def stack_alerts(config: stack.StackConfig) -> list[dict]:
    from feedline.local.slack_receiver import read_alerts

    return read_alerts(config.alerts_file)
