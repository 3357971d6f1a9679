"""Beam validation throughput against DuckDB on the same file, and peak memory on a 2 GB file.

    make bench                         # 5M rows + the 2 GB memory run (about 3-5 minutes)
    BENCH_ROWS=500000 BENCH_BIG_GB=0 make bench     # quick: 500k rows, no 2 GB run

What it does, in one run:

1. Generates a transactions file (``BENCH_ROWS`` rows, default 5,000,000; about 1% bad rows
   of the kinds feedline.local.sample_data makes: missing customer, thousands separator (quoted),
   unknown currency or status, impossible timestamp, extra field; CRLF line ends). Generation
   is vectorized (Arrow/numpy, a few million rows a second) and cached in ``BENCH_DIR``.
2. DuckDB: ``read_csv(..., store_rejects=true)`` with the contract's columns typed
   (VARCHAR; DOUBLE for NUMERIC, since DECIMAL(38,9) parsing is ~10x slower in DuckDB 1.5;
   TIMESTAMPTZ), materialized into an in-memory table. ``BENCH_DUCKDB_RUNS`` (2) runs in each
   of ``BENCH_ROUNDS`` (3) rounds; the best of all counts (the most favourable figure for
   DuckDB, which gets twice the Beam job's tries).
3. The Beam job (beam_jobs/feedline_beam/pipeline.py) in a subprocess, on the runner of the
   DAG's local runs (feedline.orchestrate.launch.LOCAL_RUNNER: FnApiRunner, no Prism attempt),
   with 1 worker (in the job's process) and with ``BENCH_WORKERS`` (default 2) worker processes
   (forked from the job's process; the file is cut into one range per worker), once each per
   round, after that round's DuckDB runs: interleaved, because this machine's speed moves by
   ±25% within minutes, and every engine and worker count must see the same moments.
   Throughput is rows / the time of ``pipeline.run()`` (graph construction, runner and worker
   start, all stages, writing the outputs; not the ~4 s Python spends importing apache_beam).
   Outputs go to ``BENCH_OUT`` (default /dev/shm when it exists: DuckDB's result stays in
   memory too), then are deleted. Best of the rounds per worker count; ``ratio=``
   uses the best worker count. ``output_bytes_per_input_byte=`` is all outputs' bytes over
   the CSV's. ``BENCH_ROW_ROWS`` (default 100,000) rows also run through ``--engine row``,
   the per-row reference, for comparison.
4. Memory: a ``BENCH_BIG_GB`` (default 2) GB file through the job (outputs on disk, under
   ``BENCH_DIR``): peak resident memory as the job process's own high-water mark (VmHWM; not
   ru_maxrss of RUSAGE_CHILDREN, which subprocess's vfork+exec seeds with this benchmark's own
   peak, DuckDB's table included) and as the whole process tree sampled by psutil (the sum
   over the job, its fork server and its workers). ``BENCH_BIG_WORKERS`` (default: the largest
   worker count above) workers; ``peak_rss_big_mb=`` is the larger of the two figures.

5. Bad rows: ``BENCH_BAD_ROWS`` (default 1,000,000) rows validated in this process
   (ColumnarValidator, no Beam), once clean and once with 1% bad rows, best of 3 interleaved;
   ``bad_rows_cost=`` is the second time over the first (1.0: bad rows cost nothing extra).

Printed before the last line: ``output_bytes_per_input_byte=``, ``beam_1w_rows_per_s=
beam_2w_rows_per_s=``, ``peak_rss_big_mb=``, ``bad_rows_cost=``, ``beam_rows_per_s= ...
duckdb_rows_per_s=``.
The last line is ``ratio=<beam rows/s / duckdb rows/s>``.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO / "beam_jobs")]

from feedline.contract.model import load_contract  # noqa: E402
from feedline.orchestrate.launch import LOCAL_RUNNER  # noqa: E402

CONTRACT = REPO / "contracts" / "transactions.yaml"
HEADER = b"transaction_id,customer_id,amount,currency,status,transaction_ts\r\n"
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "PLN", "INR", "BRL"]
STATUSES = ["pending", "settled", "settled", "settled", "refunded", "failed"]
DAY_START = 1795564800  # 2026-11-25T00:00:00Z
DEFECTS = 6


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def _s(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.string())


def _digits(values: np.ndarray, width: int) -> pa.Array:
    """Zero-padded decimal text of non-negative ints, as a fixed-width string array."""
    out = np.empty((len(values), width), dtype=np.uint8)
    v = values.astype(np.int64)
    for k in range(width - 1, -1, -1):
        out[:, k] = v % 10 + 48
        v //= 10
    offsets = np.arange(0, (len(values) + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(len(values), pa.py_buffer(offsets), pa.py_buffer(out))


def transaction_lines(rng: np.random.Generator, first: int, n: int, bad_share: float) -> pa.Buffer:
    """Rows first..first+n-1 as CSV text (CRLF), about ``bad_share`` of them bad."""
    index = np.arange(first, first + n)
    id_width = max(7, len(str(first + n)))
    transaction_id = pc.binary_join_element_wise(_s("T20261125"), _digits(index, id_width), _s(""))
    customer = pc.binary_join_element_wise(_s("C"), _digits(rng.integers(1, 501, n), 6), _s(""))
    cents = rng.integers(1, 250_001, n)
    amount = pc.binary_join_element_wise(
        pc.cast(pa.array(cents // 100), pa.string()), _digits(cents % 100, 2), _s(".")
    )
    currency = pa.array(CURRENCIES).take(pa.array(rng.integers(0, len(CURRENCIES), n)))
    status = pa.array(STATUSES).take(pa.array(rng.integers(0, len(STATUSES), n)))
    seconds = rng.integers(0, 86_400, n)
    clock = pc.binary_join_element_wise(
        _digits(seconds // 3600, 2), _digits(seconds // 60 % 60, 2), _digits(seconds % 60, 2), _s(":")
    )
    ts = pc.binary_join_element_wise(_s("2026-11-25T"), clock, _s("Z"), _s(""))

    bad = rng.random(n) < bad_share
    kind = np.where(bad, rng.integers(0, DEFECTS, n), -1)

    def spoil(values: pa.Array, which: int, text: str) -> pa.Array:
        mask = kind == which
        if not mask.any():
            return values
        return pc.replace_with_mask(values, pa.array(mask), pa.array([text] * int(mask.sum()), pa.string()))

    customer = spoil(customer, 0, "")  # missing customer
    amount = spoil(amount, 1, '"1,234.50"')  # thousands separator, quoted as csv.writer does
    currency = spoil(currency, 2, "XYZ")  # unknown currency
    status = spoil(status, 3, "lost")  # unknown status
    ts = spoil(ts, 4, "2026-13-01T00:00:00Z")  # impossible timestamp
    end = pc.if_else(pa.array(kind == 5), _s(",extra\r\n"), _s("\r\n"))  # extra field
    line = pc.binary_join_element_wise(transaction_id, customer, amount, currency, status, ts, _s(","))
    lines = pc.binary_join_element_wise(line, end, _s(""))
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    return lines.buffers()[2][int(offsets[lines.offset]) : int(offsets[lines.offset + len(lines)])]


def generate(path: Path, rows: int | None = None, size_bytes: int | None = None, bad_share: float = 0.01,
             seed: int = 7) -> int:
    """Write a transactions file of ``rows`` rows (or of at least ``size_bytes``); rows written."""
    rng = np.random.default_rng(seed)
    written, first = 0, 1
    tmp = path.with_suffix(".part")
    with open(tmp, "wb") as out:
        out.write(HEADER)
        size = len(HEADER)
        while (rows is not None and written < rows) or (size_bytes is not None and size < size_bytes):
            n = min(1_000_000, rows - written) if rows is not None else 1_000_000
            text = transaction_lines(rng, first, n, bad_share)
            out.write(text)
            size += text.size
            written += n
            first += n
    tmp.rename(path)
    return written


def cached_file(directory: Path, name: str, **spec) -> tuple[Path, int]:
    path = directory / name
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return path, json.loads(meta.read_text())["rows"]
    started = time.perf_counter()
    rows = generate(path, **spec)
    meta.write_text(json.dumps({"rows": rows}))
    print(f"generated {path} ({rows:,} rows, {path.stat().st_size / 1e9:.2f} GB) "
          f"in {time.perf_counter() - started:.1f}s", flush=True)
    return path, rows


def bad_rows_cost(directory: Path, rows: int) -> dict[str, float]:
    """Seconds to validate ``rows`` rows with no bad rows and with 1% (sample_data's defects),
    in this process: what issue 10's item 3 asks is that both cost about the same."""
    from feedline.validate.columnar import ColumnarValidator
    from feedline.validate.outputs import Stamp

    contract = load_contract(CONTRACT)
    files = {label: cached_file(directory, f"transactions_20261125_{rows}_{label}.csv", rows=rows, bad_share=share)[0]
             for label, share in (("clean", 0.0), ("bad", 0.01))}
    best = {label: float("inf") for label in files}
    for _ in range(3):
        for label, path in files.items():
            started = time.perf_counter()
            with open(path, "rb") as stream:
                for _item in ColumnarValidator(contract).validate(stream, Stamp("bench", "2026-11-25T00:00:00Z", path.name)):
                    pass
            best[label] = min(best[label], time.perf_counter() - started)
    return best


# --------------------------------------------------------------------------------------------
# DuckDB
# --------------------------------------------------------------------------------------------

DUCKDB_TYPES = {"STRING": "VARCHAR", "NUMERIC": "DOUBLE", "TIMESTAMP": "TIMESTAMPTZ", "DATE": "DATE",
                "INT64": "BIGINT", "FLOAT64": "DOUBLE", "BOOL": "BOOLEAN"}


def duckdb_run(path: Path, runs: int) -> dict:
    contract = load_contract(CONTRACT)
    columns = ", ".join(f"'{c.name}': '{DUCKDB_TYPES[c.type]}'" for c in contract.columns)
    query = (
        f"CREATE OR REPLACE TABLE valid AS SELECT * FROM read_csv('{path}', header=true, "
        f"columns={{{columns}}}, store_rejects=true)"
    )
    times, rows, rejected = [], 0, 0
    con = duckdb.connect()
    for _ in range(runs):
        started = time.perf_counter()
        con.execute(query)
        times.append(time.perf_counter() - started)
        rows = con.execute("SELECT count(*) FROM valid").fetchone()[0]
        rejected = con.execute("SELECT count(DISTINCT line) FROM reject_errors").fetchone()[0]
    con.close()
    return {"seconds": min(times), "median_seconds": statistics.median(times), "valid": rows,
            "rejected": rejected, "threads": os.cpu_count()}


# --------------------------------------------------------------------------------------------
# The Beam job, in a subprocess
# --------------------------------------------------------------------------------------------

JOB = r"""
import json, sys, time
from apache_beam.metrics import MetricsFilter
from feedline_beam import pipeline
started = time.perf_counter()
result = pipeline.run(sys.argv[1:])
seconds = time.perf_counter() - started
counters = {c.key.metric.name: c.committed for c in result.metrics().query(MetricsFilter())["counters"]}
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
hwm = int(status["VmHWM"].split()[0]) * 1024  # this process's peak since exec
print("BENCH_RESULT " + json.dumps({"seconds": seconds, "counters": counters, "vm_hwm": hwm}), flush=True)
"""


def _tree_memory(process) -> tuple[int, int]:
    """(RSS, PSS) summed over the process and its descendants. RSS counts the pages forked
    workers share with the job (copy-on-write: modules, the contract) once per process; PSS
    splits each shared page between its sharers, so its sum is the memory the tree really holds."""
    rss = pss = 0
    try:
        tree = [process, *process.children(recursive=True)]
    except Exception:  # noqa: BLE001 - the job (or a worker) exited while we looked
        return 0, 0
    for p in tree:
        try:
            full = p.memory_full_info()
            rss += full.rss
            pss += getattr(full, "pss", full.rss)
        except Exception:  # noqa: BLE001 - a worker that just exited
            pass
    return rss, pss


def beam_run(path: Path, out: Path, engine: str = "columnar", workers: int = 1) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    args = [
        "--feed", "transactions", "--contract", str(CONTRACT), "--input", str(path),
        "--output_prefix", str(out) + "/", "--batch_id", "bench", "--ingested_at", "2026-11-25T00:00:00Z",
        "--engine", engine, "--runner", LOCAL_RUNNER, f"--direct_num_workers={workers}",
        f"--direct_running_mode={'multi_processing' if workers > 1 else 'in_memory'}",
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO / "beam_jobs")])}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", JOB, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = {"tree": 0, "tree_pss": 0}
    try:
        import psutil

        watched = psutil.Process(process.pid)

        def sample() -> None:
            while process.poll() is None:
                rss, pss = _tree_memory(watched)
                peak["tree"], peak["tree_pss"] = max(peak["tree"], rss), max(peak["tree_pss"], pss)
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
    except ImportError:
        sampler = None
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    if sampler:
        sampler.join()
    if process.returncode:
        raise SystemExit(f"Beam job failed ({process.returncode}):\n{stderr[-4000:]}")
    line = next(line for line in stdout.splitlines() if line.startswith("BENCH_RESULT "))
    result = json.loads(line.split(" ", 1)[1])
    result["wall_seconds"] = wall
    result["peak_tree_rss"] = peak["tree"]
    result["peak_tree_pss"] = peak["tree_pss"]
    result["output_bytes"] = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    shutil.rmtree(out, ignore_errors=True)
    return result


def mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def main() -> int:
    rows = env_int("BENCH_ROWS", 5_000_000)
    big_gb = env_float("BENCH_BIG_GB", 2.0)
    row_rows = env_int("BENCH_ROW_ROWS", 100_000)
    directory = Path(os.environ.get("BENCH_DIR", Path(tempfile.gettempdir()) / "feedline-bench"))
    directory.mkdir(parents=True, exist_ok=True)
    fast_out = Path(os.environ.get("BENCH_OUT", "/dev/shm" if Path("/dev/shm").is_dir() else directory))
    fast_out = fast_out / f"feedline-bench-out-{os.getpid()}"

    path, n = cached_file(directory, f"transactions_20261125_{rows}.csv", rows=rows)
    print(f"file: {path} ({n:,} rows, {path.stat().st_size / 1e6:,.0f} MB)", flush=True)

    # Rounds of DuckDB runs, then the job once per worker count: the machine's speed moves
    # within minutes, and each side keeps its best time over the same moments.
    rounds = max(1, env_int("BENCH_ROUNDS", 3))
    duck_runs = max(1, env_int("BENCH_DUCKDB_RUNS", 2))
    counts = sorted({1, max(1, env_int("BENCH_WORKERS", 2))})
    by_round: list[dict] = []
    by_workers: dict[int, list[dict]] = {w: [] for w in counts}
    for _ in range(rounds):
        by_round.append(duckdb_run(path, duck_runs))
        for w in counts:
            by_workers[w].append(beam_run(path, fast_out, workers=w))
    duck = min(by_round, key=lambda d: d["seconds"])
    duck_rate = n / duck["seconds"]
    medians = ", ".join(f"{d['median_seconds']:.2f}s" for d in by_round)
    print(f"duckdb: {duck['seconds']:.2f}s best of {rounds * duck_runs} (medians per round {medians}), "
          f"{duck_rate:,.0f} rows/s; "
          f"{duck['valid']:,} rows kept, {duck['rejected']:,} rejected", flush=True)

    rates: dict[int, float] = {}
    for w, runs in by_workers.items():
        beam = min(runs, key=lambda b: b["seconds"])
        each = ", ".join(f"{b['seconds']:.2f}s" for b in runs)
        rates[w] = n / beam["seconds"]
        c = beam["counters"]
        print(f"beam (columnar, {LOCAL_RUNNER.rsplit('.', 1)[-1]}, {w} worker(s)): pipeline {beam['seconds']:.2f}s "
              f"best of {len(runs)} ({each}; {beam['wall_seconds']:.1f}s with interpreter start and imports), "
              f"{rates[w]:,.0f} rows/s; read {c.get('rows_read', 0):,}, valid {c.get('rows_valid', 0):,}, "
              f"deadletter {c.get('rows_deadletter', 0):,}; peak RSS {mb(beam['vm_hwm'])} (job process), "
              f"{mb(beam['peak_tree_rss'])} (process tree); output {beam['output_bytes'] / 1e9:.2f} GB", flush=True)
        if c.get("rows_read") != n:
            raise SystemExit(f"Beam read {c.get('rows_read')} rows with {w} worker(s), the file has {n}")
    best = max(rates, key=rates.get)
    beam_rate = rates[best]
    output_ratio = by_workers[best][0]["output_bytes"] / path.stat().st_size

    if row_rows:
        small, k = cached_file(directory, f"transactions_20261125_{row_rows}.csv", rows=row_rows)
        row = beam_run(small, fast_out, engine="row")
        fast_small = beam_run(small, fast_out)
        print(f"beam on {k:,} rows: engine=row {k / row['seconds']:,.0f} rows/s "
              f"(ratio {k / row['seconds'] / duck_rate:.3f}), engine=columnar {k / fast_small['seconds']:,.0f} rows/s "
              f"(fixed costs weigh more on a small file)", flush=True)

    bad_rows = env_int("BENCH_BAD_ROWS", 1_000_000)
    if bad_rows:
        cost = bad_rows_cost(directory, bad_rows)
        print(f"validation of {bad_rows:,} rows in this process (ColumnarValidator, best of 3, interleaved): "
              f"clean {cost['clean']:.2f}s, 1% bad rows {cost['bad']:.2f}s", flush=True)

    if big_gb > 0:
        workers = env_int("BENCH_BIG_WORKERS", max(counts))
        big, big_rows = cached_file(directory, f"transactions_20261125_{big_gb:g}gb.csv", size_bytes=int(big_gb * 1e9))
        result = beam_run(big, directory / f"big-out-{os.getpid()}", workers=workers)
        peak = max(result["peak_tree_rss"], result["vm_hwm"])
        print(f"memory: {big.stat().st_size / 1e9:.2f} GB file ({big_rows:,} rows), {workers} worker(s): "
              f"pipeline {result['seconds']:.1f}s ({big_rows / result['seconds']:,.0f} rows/s), "
              f"peak RSS {mb(result['vm_hwm'])} (VmHWM of the job process), {mb(result['peak_tree_rss'])} "
              f"(whole process tree's RSS sum, sampled every 50 ms), {mb(result['peak_tree_pss'])} (its PSS sum: "
              f"pages forked workers share with the job counted once); "
              f"{'under' if max(result['peak_tree_pss'], result['vm_hwm']) < 2**30 else 'OVER'} 1 GB as PSS, "
              f"{'under' if peak < 2**30 else 'OVER'} as an RSS sum; "
              f"output {result['output_bytes'] / 1e9:.1f} GB", flush=True)

    print(f"output_bytes_per_input_byte={output_ratio:.3f}")
    print(" ".join(f"beam_{w}w_rows_per_s={rate:.0f}" for w, rate in rates.items()))
    if big_gb > 0:
        print(f"peak_rss_big_mb={max(result['peak_tree_rss'], result['vm_hwm']) / 2**20:.0f} "
              f"peak_pss_big_mb={result['peak_tree_pss'] / 2**20:.0f} big_workers={workers}")
    if bad_rows:
        print(f"bad_rows_cost={cost['bad'] / cost['clean']:.3f}")
    print(f"beam_rows_per_s={beam_rate:.0f} beam_workers={best} duckdb_rows_per_s={duck_rate:.0f}")
    print(f"ratio={beam_rate / duck_rate:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
