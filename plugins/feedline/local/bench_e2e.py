"""``make bench-e2e`` / ``feedline bench-e2e [--rows N ...]``: file drop -> reporting updated, through
the local stack's real Airflow (scheduler, LocalExecutor, DAG processor, API server), per size.

After a 1k-row warm-up batch (shown, not counted), for each size (10k and 1M transactions rows
by default) it makes one file (feedline.local.sample_data, 0.5 % bad rows, its bytes new at every
bench run so the claim never sets it aside as a duplicate), uploads it to the landing bucket and
starts the feed's DAG run at once with the file in ``conf``, as the event function does on a GCS
finalize. The clock starts when the upload has finished (the object exists: a finalize event's
time) and stops when the last ``refresh_*`` task (the reporting views) ended; the run's tail after that
(settling the files, dropping the load tables) is shown, not counted.

Where the time went comes from the scheduler's own timestamps (REST API: each task instance's
``queued_when``, ``start_date``, ``end_date``), by cutting the drop -> reporting interval at every
one of them and naming each piece by what was going on in it, in this order of precedence:

- ``beam``: ``validate_rows`` was running (the Beam job, DirectRunner here);
- ``bigquery``: a load, publish, merge, refresh or audit task was running;
- orchestration, the rest: ``tasks`` (Feedline's light Python tasks: branch, claim, clear,
  evolve, check, settle), ``startup`` (a task was queued but none had started: the executor
  taking it and starting its process), ``scheduling`` (nothing queued or running: the run
  waiting to be created and scheduled, the scheduler noticing an upstream ended).

Inside every task instance (``start_date`` -> ``end_date``) the task process also starts, imports
whatever ``plugins/`` holds (Airflow's plugin manager runs every .py file there), parses the DAG
file and emits a lineage START event before the task's code runs, and pushes XComs after it: read
from each task's log lines (``PHASES``) and summed per category.

The last line: ``e2e_10k_s=… e2e_1m_s=…`` (drop -> reporting updated, seconds). Run it on a wiped
stack (``feedline local down && feedline local wipe``) for figures comparable between runs: the
BigQuery emulator's MERGE into raw slows with every row raw holds (the bench prints how many).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from feedline.contract import naming
from feedline.local.airflow_api import AirflowApi, instant, wait_for_run

FEED = "transactions"
SIZES = (10_000, 1_000_000)
# A first run on a freshly started stack pays cold caches (bytecode, imports): one small batch
# goes through first, shown and not counted.
WARMUP_ROWS = 1_000
BAD_SHARE = 0.005  # under the feed's deadletter threshold: the run must succeed
TIMEOUT = 1800.0
BEAM_TASKS = ("validate_rows",)
BIGQUERY_TASKS = ("load_", "publish_", "merge_", "refresh_", "record_audit")  # task id prefixes
REPORTING_TASKS = ("refresh_",)
CATEGORIES = ("beam", "bigquery", "tasks", "startup", "scheduling")
ORCHESTRATION = ("tasks", "startup", "scheduling")


def category(task_id: str) -> str:
    """What a task's running time counts as: beam, bigquery or tasks (Feedline's own)."""
    if task_id in BEAM_TASKS:
        return "beam"
    if task_id.startswith(BIGQUERY_TASKS):
        return "bigquery"
    return "tasks"


@dataclass(frozen=True)
class TaskTimes:
    task_id: str
    queued: datetime | None
    start: datetime | None
    end: datetime | None

    @classmethod
    def from_api(cls, ti: dict) -> "TaskTimes":
        def at(key: str) -> datetime | None:
            return instant(ti[key]) if ti.get(key) else None

        return cls(ti["task_id"], at("queued_when"), at("start_date"), at("end_date"))


def size_label(rows: int) -> str:
    """10000 -> 10k, 1000000 -> 1m (the last line's keys)."""
    for unit, suffix in ((1_000_000, "m"), (1_000, "k")):
        if rows >= unit and rows % unit == 0:
            return f"{rows // unit}{suffix}"
    return str(rows)


def reporting_done(tasks: list[TaskTimes], run_end: datetime | None) -> datetime | None:
    """When the reporting views were refreshed: the last refresh task's end (the run's end for a
    feed without views)."""
    ends = [t.end for t in tasks if t.task_id.startswith(REPORTING_TASKS)]
    if ends:
        return max(ends) if all(ends) else None
    return run_end


def on_the_way(tasks: list[TaskTimes], done: datetime) -> list[TaskTimes]:
    """The task instances that started before reporting was updated."""
    return [t for t in tasks if t.start and t.start < done]


def breakdown(dropped: datetime, done: datetime, tasks: list[TaskTimes]) -> dict[str, float]:
    """Seconds of [dropped, done] per category (they sum to the wall time): the interval cut at
    every queued/start/end instant, each piece named by the first of beam, bigquery, tasks
    (something of that kind running), startup (something queued, nothing running), scheduling.
    Pure."""
    cuts = {dropped, done}
    for t in tasks:
        cuts.update(x for x in (t.queued, t.start, t.end) if x and dropped < x < done)
    points = sorted(cuts)
    totals = dict.fromkeys(CATEGORIES, 0.0)
    for a, b in zip(points, points[1:]):
        middle = a + (b - a) / 2
        running = {category(t.task_id) for t in tasks if t.start and t.start <= middle < (t.end or done)}
        if running:
            kind = next(k for k in ("beam", "bigquery", "tasks") if k in running)
        elif any(t.queued and t.queued <= middle < (t.start or done) for t in tasks):
            kind = "startup"
        else:
            kind = "scheduling"
        totals[kind] += (b - a).total_seconds()
    return totals


# What a task instance spends around its own code, by the lines an Airflow 3.3 task log holds:
# (phase, the line it starts at (None: the instance's start_date), the first line after it).
START = None
PHASES = (
    ("process start", START, "::group::Pre Execute"),
    ("plugins import", "::group::Pre Execute", "DAG bundles loaded"),
    ("DAG parse", "Filling up the DagBag", "Worker startup parse complete"),
    ("lineage START", "Worker startup parse complete", "::endgroup::"),
)
# The Beam task only: its code's start -> the pipeline's process started (the provider's
# `import apache_beam` version probe in a subprocess of its own).
BEAM_PROBE = ("Beam version probe", "::endgroup::", "Running command:")
POST_START = "::group::Post Execute"  # -> end_date: XCom push, lineage COMPLETE


@dataclass
class InTask:
    """Per category: task instances, their running seconds, and seconds per phase (PHASES, the
    Beam probe, ``post-execute``)."""

    count: Counter = field(default_factory=Counter)
    running: Counter = field(default_factory=Counter)
    phases: dict[str, Counter] = field(default_factory=dict)

    def add(self, kind: str, phase: str, value: float) -> None:
        self.phases.setdefault(kind, Counter())[phase] += value

    def phase(self, kind: str, name: str) -> float:
        return self.phases.get(kind, Counter())[name]

    def before_code(self, kind: str) -> float:
        return sum(self.phase(kind, name) for name, _, _ in PHASES)


def log_events(text: str) -> list[tuple[datetime, str]]:
    """(timestamp, event) of each JSON line of an Airflow 3 task log; other lines are passed."""
    events = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
            events.append((instant(record["timestamp"]), str(record.get("event", ""))))
        except (ValueError, KeyError, TypeError):
            continue
    return events


def first_at(events: list[tuple[datetime, str]], prefix: str, after: datetime | None = None) -> datetime | None:
    return next((at for at, event in events if event.startswith(prefix) and (after is None or at >= after)), None)


def seconds(a: datetime | None, b: datetime | None) -> float:
    return max(0.0, (b - a).total_seconds()) if a and b else 0.0


def in_task(tasks: list[TaskTimes], logs: dict[str, str]) -> InTask:
    """Sum per category what each task's log says it spent around its own code. Pure."""
    result = InTask()
    for t in tasks:
        if not (t.start and t.end and t.end > t.start):  # a skipped task starts and ends at once
            continue
        kind, events = category(t.task_id), log_events(logs.get(t.task_id, ""))
        result.count[kind] += 1
        result.running[kind] += seconds(t.start, t.end)
        for name, begin, end in PHASES + ((BEAM_PROBE,) if kind == "beam" else ()):
            began = t.start if begin is START else first_at(events, begin, t.start)
            result.add(kind, name, seconds(began, first_at(events, end, began)))
        post = [at for at, event in events if event.startswith(POST_START)]
        result.add(kind, "post-execute", seconds(post[-1] if post else None, t.end))
    return result


def share(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole > 0 else "-"


def report(rows: int, wall: float, parts: dict[str, float], inside: InTask, tail: float, upload: float) -> list[str]:
    """The lines printed for one size. Pure."""
    orchestration = sum(parts[k] for k in ORCHESTRATION)
    lines = [
        f"{size_label(rows)} rows: drop -> reporting updated {wall:.1f}s (upload before it {upload:.1f}s; "
        f"run tail after it {tail:.1f}s)",
        f"   beam {parts['beam']:.1f}s {share(parts['beam'], wall)}, bigquery {parts['bigquery']:.1f}s "
        f"{share(parts['bigquery'], wall)}, orchestration {orchestration:.1f}s {share(orchestration, wall)}",
        f"   orchestration: scheduling gaps {parts['scheduling']:.1f}s, task start-up (queued -> started) "
        f"{parts['startup']:.1f}s, Feedline's light tasks {parts['tasks']:.1f}s",
    ]
    for kind in ("beam", "bigquery", "tasks"):
        if inside.count[kind]:
            phases = ", ".join(f"{name} {value:.1f}s" for name, value in inside.phases[kind].items())
            lines.append(f"   in {kind} task instances ({inside.count[kind]}, {inside.running[kind]:.1f}s running): {phases}")
    hops = sum(inside.count.values())
    if hops:
        before = sum(inside.before_code(kind) for kind in inside.count)
        post = sum(inside.phase(kind, "post-execute") for kind in inside.count)
        lines.append(
            f"   per task on the way ({hops}): scheduling gap {parts['scheduling'] / hops:.2f}s, queued -> started "
            f"{parts['startup'] / hops:.2f}s, before its code {before / hops:.2f}s, post-execute {post / hops:.2f}s"
        )
    return lines


def last_line(walls: dict[int, float]) -> str:
    return " ".join(f"e2e_{size_label(rows)}_s={seconds:.1f}" for rows, seconds in walls.items())


# --- the run ----------------------------------------------------------------------------------


def task_logs(airflow_home: Path, dag_id: str, run_id: str, tasks: list[TaskTimes]) -> dict[str, str]:
    """task id -> the text of its last attempt's log (the local stack's log folder)."""
    logs = {}
    for t in tasks:
        folder = airflow_home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={t.task_id}"
        attempts = sorted(folder.glob("attempt=*.log"), key=lambda p: int(p.stem.split("=")[1]))
        if attempts:
            logs[t.task_id] = attempts[-1].read_text(errors="replace")
    return logs


def measure(api: AirflowApi, settings, airflow_home: Path, rows: int, tag: str, seed: int, first_index: int,
            day: date, timeout: float) -> float:
    """One size: make, drop, trigger, wait; print its lines; returns drop -> reporting seconds."""
    from feedline.local import provision, sample_data

    name = f"{FEED}_{day:%Y%m%d}_{tag}.csv"
    made = time.monotonic()
    data = sample_data.generate(FEED, rows, BAD_SHARE, seed, day, first_index=first_index)
    print(f"== {size_label(rows)}: {name}, {len(data) / 1e6:.1f} MB made in {time.monotonic() - made:.0f}s")
    bucket = provision.storage_client(settings.project).bucket(settings.landing_bucket)
    object_name = naming.landing_prefix(FEED) + name
    upload_started = time.monotonic()
    bucket.blob(object_name).upload_from_string(data)
    dropped = datetime.now(timezone.utc)
    upload = time.monotonic() - upload_started
    dag_id, run_id = naming.dag_id(FEED), tag
    api.trigger(dag_id, run_id, {"files": [object_name]})
    state = wait_for_run(api, dag_id, run_id, timeout)
    run = api.run(dag_id, run_id)
    tasks = [TaskTimes.from_api(ti) for ti in api.task_instances(dag_id, run_id)]
    run_end = instant(run["end_date"]) if run.get("end_date") else None
    done = reporting_done(tasks, run_end)
    if state != "success" or done is None:
        states = {ti["task_id"]: ti["state"] for ti in api.task_instances(dag_id, run_id)}
        raise RuntimeError(f"{dag_id} {run_id} ended {state}: {states}")
    wall = (done - dropped).total_seconds()
    tail = (run_end - done).total_seconds() if run_end else 0.0
    inside = in_task(on_the_way(tasks, done), task_logs(airflow_home, dag_id, run_id, tasks))
    for line in report(rows, wall, breakdown(dropped, done, tasks), inside, tail, upload):
        print(line)
    return wall


def raw_rows(settings, contract) -> int:
    """Rows the feed's raw table holds (0 when it cannot say)."""
    from feedline.local import provision
    from feedline.orchestrate import bq_calls, sql

    table = sql.template_params(settings, contract)["raw_table"]  # a validated identifier
    try:
        (row,) = bq_calls.query_rows(provision.bigquery_client(settings.project), f"SELECT COUNT(*) AS n FROM `{table}`")
    except Exception:  # noqa: BLE001 - a note, never a reason to stop the bench
        return 0
    return int(row["n"] or 0)


def check_sizes(sizes: tuple[int, ...], warmup: int) -> None:
    """Each size names its file, run id and figure (``e2e_10k_s``): the same size twice would
    trigger the first run's id again and measure nothing new."""
    if not sizes or min(sizes) <= 0 or warmup < 0:
        raise ValueError(f"--rows takes positive row counts and --warmup 0 or more (got {list(sizes)}, {warmup})")
    repeated = sorted({size_label(rows) for rows in sizes if sizes.count(rows) > 1})
    if repeated:
        raise ValueError(f"--rows names each size once: {', '.join(repeated)} is repeated")


def run_bench(sizes: tuple[int, ...] = SIZES, timeout: float = TIMEOUT, warmup: int = WARMUP_ROWS) -> int:
    from feedline.local import demo

    local = demo.start_local(feeds=[FEED])
    held = raw_rows(local.settings, local.contracts[FEED])
    if held:
        print(f"   note: raw already holds {held} {FEED} rows; the BigQuery emulator's MERGE into raw slows with "
              "them (for comparable figures: `feedline local down && feedline local wipe` first)")
    now = datetime.now(timezone.utc)
    tag = "bench" + now.strftime("%Y%m%dT%H%M%S")
    # New keys and new bytes at every bench run: the same file again would be a duplicate.
    seed, first_index = int(now.timestamp()), 1
    runs = [(f"warmup{size_label(warmup)}", warmup)] if warmup else []
    walls = {}
    for label, rows in runs + [(size_label(rows), rows) for rows in sizes]:
        if label.startswith("warmup"):
            print("== A warm-up batch first (a fresh stack's caches are cold): shown, not counted")
        wall = measure(local.api, local.settings, local.config.airflow_home, rows, f"{tag}_{label}", seed,
                       first_index, now.date(), timeout)
        if not label.startswith("warmup"):
            walls[rows] = wall
        first_index += rows
    print(last_line(walls))
    return 0
