"""``make soak`` / ``feedline soak --files N --rows N``: the local stack under load, counted in its
own tables.

1. Starts the local stack as ``feedline local up`` does, and one sweep per feed: a run with
   nothing named (REST), which waits in ``wait_for_files``, deferred to the triggerer, as a
   scheduled sweep does.
2. Makes the files (feedline.local.sample_data): ``--files`` over both feeds, ``--rows`` records
   in all over the good ones, ``--bad-share`` of them bad rows, and ``--bad-files`` whole files
   that cannot be ingested (a wrong header, a truncated gzip, an empty file); every fifth good
   file is gzipped. Every name carries the soak's tag, so its figures are its own on a stack
   that holds earlier data; key ranges do not overlap between files.
3. Drops them all at once (parallel uploads) and then acts as the sweeps' schedule: while a
   feed's landing prefix still holds files and none of its sweeps is still before its claim, it
   starts another (at most ``max_active_runs`` runs of a feed at once). Each sweep claims what
   landing holds then: one batch, one Beam job, however many files.
4. When every dropped file has left landing and every run has ended, it reads the figures back
   from the tables (raw, deadletter and the audit through ``feedline audit``'s reconciliation,
   staging by key) and the Beam jobs from Airflow's REST API (``validate_rows`` task instances
   that ran). The script counts nothing itself but the records it generated.

The last line: ``files=… rows=… rows_per_s=… batches=… beam_jobs=… lost=… duplicated=…``.
``lost``: rows of a dropped file in neither raw nor deadletter, raw rows whose key staging does
not hold, and bad files without a quarantine reason in the audit (one each). ``duplicated``:
rows in raw + deadletter beyond a file's records (a file in two batches, rows of a rejected
file), and staging rows beyond one per key. Exit 1 unless lost=0, duplicated=0, beam_jobs =
batches and every run succeeded.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Iterable

from feedline.contract import naming
from feedline.local import sample_data
from feedline.local.airflow_api import FINISHED, AirflowApi, wait_until

FEEDS = sample_data.GENERATED_FEEDS
# `make soak`, the full size (the CLI's defaults).
FILES, ROWS, BAD_FILES = 200, 2_000_000, 6
TIMEOUT = 3600.0
GZIP_EVERY = 5  # every fifth good file lands gzipped
BAD_SHARE = 0.005  # well under both feeds' thresholds (2 % fails a transactions batch), per file too
POLL_SECONDS = 5.0
UPLOADERS = 8
# A claim that has not ended yet: its sweep may still take what lands.
CLAIM_DONE = ("success", "skipped", "failed", "upstream_failed", "removed")


@dataclass(frozen=True)
class SoakFile:
    feed: str
    name: str
    records: int  # records generated (a bad file's too, though none may be loaded)
    first_index: int  # first key of the file (ranges never overlap)
    bad: str | None = None  # one of sample_data.BAD_FILE_KINDS
    gzipped: bool = False

    @property
    def object_name(self) -> str:
        return naming.landing_prefix(self.feed) + self.name


def soak_tag(now: datetime) -> str:
    """In every file name of one soak (file patterns allow [A-Za-z0-9_.-] after the date)."""
    return "soak" + now.strftime("%Y%m%dT%H%M%S")


def plan_files(files: int, rows: int, bad_files: int, tag: str, day: date) -> list[SoakFile]:
    """``files`` files alternating between the feeds, the last ``bad_files`` of them bad (their
    kinds in turn); the good ones share ``rows`` records (the first ones one more). Pure."""
    if files < 1 or rows < 0 or not 0 <= bad_files < files:
        raise ValueError(f"need files >= 1, rows >= 0 and 0 <= bad files < files (got {files}, {rows}, {bad_files})")
    good = files - bad_files
    per_file, extra = divmod(rows, good)
    plan, next_index = [], 1
    for i in range(files):
        feed = FEEDS[i % len(FEEDS)]
        bad = sample_data.BAD_FILE_KINDS[(i - good) % len(sample_data.BAD_FILE_KINDS)] if i >= good else None
        records = per_file + (1 if i < extra else 0) if bad is None else max(per_file, 10)
        gzipped = bad == "truncated gzip" or (bad is None and i % GZIP_EVERY == GZIP_EVERY - 1)
        name = f"{feed}_{day:%Y%m%d}_{tag}_{i:04d}.csv" + (".gz" if gzipped else "")
        plan.append(SoakFile(feed, name, records, next_index, bad, gzipped))
        next_index += records
    return plan


def file_bytes(f: SoakFile, bad_share: float, seed: int, day: date) -> bytes:
    import gzip

    data = sample_data.generate(f.feed, f.records, bad_share, seed + f.first_index, day, first_index=f.first_index)
    if f.bad:
        return sample_data.bad_file(f.bad, data)
    return gzip.compress(data, compresslevel=1) if f.gzipped else data


def make_files(plan: list[SoakFile], bad_share: float, seed: int, day: date) -> list[tuple[str, bytes]]:
    """Every file's object name and bytes (all made before the drop, so it lands at once)."""
    return [(f.object_name, file_bytes(f, bad_share, seed, day)) for f in plan]


def upload_all(bucket, blobs: list[tuple[str, bytes]]) -> None:
    """Upload from ``UPLOADERS`` threads at once (one client each), as a bulk export lands."""
    from feedline.local.provision import storage_client

    local = threading.local()

    def upload(item: tuple[str, bytes]) -> None:
        if not hasattr(local, "bucket"):
            local.bucket = storage_client(bucket.client.project).bucket(bucket.name)
        local.bucket.blob(item[0]).upload_from_string(item[1])

    with ThreadPoolExecutor(UPLOADERS) as pool:
        list(pool.map(upload, blobs))


# --- the sweeps' schedule -------------------------------------------------------------------


@dataclass
class Sweeps:
    """The soak's runs of one feed, and whether a new sweep is due."""

    feed: str
    tag: str
    runs: list[str] = field(default_factory=list)

    @property
    def dag_id(self) -> str:
        return naming.dag_id(self.feed)

    def next_run_id(self) -> str:
        return f"{self.tag}__{self.feed}__{len(self.runs) + 1:03d}"


def sweep_due(in_landing: int, pending_claims: int, active_runs: int, max_active_runs: int) -> bool:
    """Start another sweep: files wait in landing, no sweep could still take them, and the feed
    has a run slot. Pure."""
    return in_landing > 0 and pending_claims == 0 and active_runs < max_active_runs


def task_state(api: AirflowApi, dag_id: str, run_id: str, task_id: str) -> str | None:
    return next((t["state"] for t in api.task_instances(dag_id, run_id) if t["task_id"] == task_id), None)


def start_sweep(api: AirflowApi, sweeps: Sweeps) -> str:
    run_id = sweeps.next_run_id()
    api.trigger(sweeps.dag_id, run_id, {})
    sweeps.runs.append(run_id)
    return run_id


def schedule_sweeps(api: AirflowApi, bucket, plan: list[SoakFile], all_sweeps: list[Sweeps],
                    max_active_runs: int, timeout: float) -> None:
    """Until every soak file has left landing and every soak run has ended."""
    names = {f.object_name for f in plan}
    deadline = time.monotonic() + timeout
    while True:
        busy, in_landing = False, 0
        for sweeps in all_sweeps:
            active = [r for r in sweeps.runs if api.run(sweeps.dag_id, r)["state"] not in FINISHED]
            pending = [r for r in active if task_state(api, sweeps.dag_id, r, "claim_files") not in CLAIM_DONE]
            prefix = naming.landing_prefix(sweeps.feed)
            in_landing = sum(1 for b in bucket.client.list_blobs(bucket, prefix=prefix) if b.name in names)
            if sweep_due(in_landing, len(pending), len(active), max_active_runs):
                print(f"   {in_landing} {sweeps.feed} file(s) in landing: sweep {start_sweep(api, sweeps)}")
                active.append(sweeps.runs[-1])
            busy = busy or bool(active) or in_landing > 0
        if not busy:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"soak runs not done within {timeout:.0f}s")
        time.sleep(POLL_SECONDS)


# --- the figures, from the tables -------------------------------------------------------------


def scalar(client, settings, identifiers: dict, template: str, config=None) -> int:
    """The one value a query of sql/ answers."""
    from feedline.orchestrate import bq_calls, sql

    statement = sql.render(settings, template, params=identifiers)
    (row,) = bq_calls.query_rows(client, statement, config)
    return int(next(iter(row.values())) or 0)


def table_rows(client, settings, contracts, tag: str) -> tuple[list[dict], int, int]:
    """(reconciliation rows of the soak's files, staging rows beyond one per key, soak raw rows
    whose key staging lacks), over both feeds."""
    from google.cloud import bigquery

    from feedline.orchestrate import audit, sql

    files, extra, missing = [], 0, 0
    by_tag = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("name_part", "STRING", tag)])
    for feed in FEEDS:
        contract = contracts[feed]
        files += [f for f in audit.reconcile(client, settings, contract)["files"] if tag in f["source_file"]]
        identifiers = sql.template_params(settings, contract)
        extra += scalar(client, settings, identifiers, "audit/staging_extra_rows.sql")
        missing += scalar(client, settings, identifiers, "audit/raw_keys_missing_from_staging.sql", by_tag)
    return files, extra, missing


@dataclass
class Figures:
    files: int
    rows: int
    batches: int
    lost: int
    duplicated: int
    problems: list[str]


def figures(plan: list[SoakFile], files: list[dict], staging_extra: int, staging_missing: int) -> Figures:
    """What the tables say happened to each planned file (``files``: reconcile_files rows). Pure."""
    by_name: dict[str, list[dict]] = {}
    for row in files:
        by_name.setdefault(row["source_file"], []).append(row)
    lost, duplicated, problems = staging_missing, staging_extra, []
    if staging_missing:
        problems.append(f"{staging_missing} raw row(s) whose key staging does not hold")
    if staging_extra:
        problems.append(f"staging holds {staging_extra} row(s) beyond one per key")
    for f in plan:
        rows = by_name.get(f.name, [])
        found = sum(r["raw_rows"] + r["deadletter_rows"] for r in rows)
        expected = 0 if f.bad else f.records
        if not rows:
            problems.append(f"{f.name}: not in the audit, raw or deadletter")
        if f.bad and not any(r["status"] == "quarantined" and r["reason"] for r in rows):
            lost += 1
            problems.append(f"{f.name} ({f.bad}): no quarantine reason in the audit")
        lost += max(0, expected - found)
        duplicated += max(0, found - expected)
        if found != expected:
            problems.append(f"{f.name}: {f.records if not f.bad else 'rejected, so 0'} record(s), the tables "
                            f"hold {found} in {len({r['batch_id'] for r in rows})} batch(es)")
        for r in rows:
            if r["status"] == "loaded" and (r["rows_read"], r["rows_loaded"], r["rows_deadletter"]) != (
                f.records, r["raw_rows"], r["deadletter_rows"]
            ):
                problems.append(f"{f.name} batch {r['batch_id']}: audit read {r['rows_read']} = "
                                f"{r['rows_loaded']} + {r['rows_deadletter']}, generated {f.records}")
    batches = {r["batch_id"] for r in files}
    rows = sum(r["raw_rows"] + r["deadletter_rows"] for r in files)
    return Figures(len(by_name), rows, len(batches), lost, duplicated, problems)


def beam_jobs(api: AirflowApi, all_sweeps: Iterable[Sweeps]) -> int:
    """validate_rows task instances that started (one per batch; a retry is the same one)."""
    return sum(
        1
        for sweeps in all_sweeps
        for run_id in sweeps.runs
        for ti in api.task_instances(sweeps.dag_id, run_id)
        if ti["task_id"] == "validate_rows" and ti["start_date"]
    )


def last_run_end(api: AirflowApi, all_sweeps: Iterable[Sweeps]) -> datetime | None:
    ends = [api.run(s.dag_id, r)["end_date"] for s in all_sweeps for r in s.runs]
    return max((datetime.fromisoformat(e.replace("Z", "+00:00")) for e in ends if e), default=None)


def slowest_tasks(api: AirflowApi, dag_id: str, run_id: str, n: int = 3) -> str:
    """Where a run's time went: its ``n`` longest task instances."""
    timed = sorted(((ti.get("duration") or 0.0, ti["task_id"]) for ti in api.task_instances(dag_id, run_id)),
                   reverse=True)[:n]
    return ", ".join(f"{task} {seconds:.0f}s" for seconds, task in timed)


def summary_line(fig: Figures, seconds: float, jobs: int) -> str:
    rate = fig.rows / seconds if seconds > 0 else 0.0
    return (f"files={fig.files} rows={fig.rows} rows_per_s={rate:.0f} batches={fig.batches} "
            f"beam_jobs={jobs} lost={fig.lost} duplicated={fig.duplicated}")


# --- the command ------------------------------------------------------------------------------


def wait_deferred(api: AirflowApi, sweeps: Sweeps, timeout: float = 180.0) -> None:
    run_id = sweeps.runs[-1]
    wait_until(lambda: task_state(api, sweeps.dag_id, run_id, "wait_for_files") == "deferred", timeout,
               interval=2.0, what=f"{run_id} to defer in wait_for_files")


def run_soak(files: int = FILES, rows: int = ROWS, bad_files: int = BAD_FILES, bad_share: float = BAD_SHARE,
             seed: int = 1, timeout: float = TIMEOUT) -> int:
    from feedline.local import demo, provision

    local = demo.start_local(list(FEEDS))
    settings, contracts, api = local.settings, local.contracts, local.api

    now = datetime.now(timezone.utc)
    tag, day = soak_tag(now), now.date()
    plan = plan_files(files, rows, bad_files, tag, day)
    good = [f for f in plan if not f.bad]
    print(f"== Making {len(plan)} files: {sum(f.records for f in good)} records in {len(good)} good files "
          f"({bad_share:.1%} bad rows), {len(plan) - len(good)} bad files ({tag})")
    made = time.monotonic()
    blobs = make_files(plan, bad_share, seed, day)
    print(f"   {sum(len(b) for _, b in blobs) / 1e6:.0f} MB in {time.monotonic() - made:.0f}s")
    all_sweeps = [Sweeps(feed, tag) for feed in FEEDS]
    print("== One sweep per feed, waiting for files (deferred to the triggerer)")
    for sweeps in all_sweeps:
        print(f"   {sweeps.dag_id}: {start_sweep(api, sweeps)}")
    for sweeps in all_sweeps:
        wait_deferred(api, sweeps)
    bucket = provision.storage_client(settings.project).bucket(settings.landing_bucket)
    print(f"== Dropping the {len(plan)} files into gs://{settings.landing_bucket}/ at once")
    started, dropped_at = time.monotonic(), datetime.now(timezone.utc)
    upload_all(bucket, blobs)
    del blobs
    print(f"   uploaded in {time.monotonic() - started:.0f}s")
    print("== Sweeping until landing is empty and every run has ended")
    schedule_sweeps(api, bucket, plan, all_sweeps, settings.max_active_runs, timeout)
    ended = last_run_end(api, all_sweeps) or datetime.now(timezone.utc)
    seconds = (ended - dropped_at).total_seconds()

    states = {(s.dag_id, r): api.run(s.dag_id, r)["state"] for s in all_sweeps for r in s.runs}
    for (dag_id, run_id), state in states.items():
        claimed = task_state(api, dag_id, run_id, "claim_files")
        print(f"   {dag_id} {run_id}: {state}, claim {claimed} ({demo.run_timings(api, dag_id, run_id)}; "
              f"longest: {slowest_tasks(api, dag_id, run_id)})")
    fig = figures(plan, *table_rows(provision.bigquery_client(settings.project), settings, contracts, tag))
    jobs = beam_jobs(api, all_sweeps)
    for problem in fig.problems:
        print(f"   problem: {problem}")
    failed = [run_id for (_, run_id), state in states.items() if state != "success"]
    if failed:
        print(f"   runs not successful: {', '.join(failed)}")
    print(f"== drop to last run end {seconds:.0f}s; wall {time.monotonic() - started:.0f}s since the drop")
    print(summary_line(fig, seconds, jobs))
    ok = fig.lost == 0 and fig.duplicated == 0 and jobs == fig.batches and not failed and not fig.problems
    return 0 if ok else 1
