"""Local runs of the job: the runner the DAG's launch spec names (FnApiRunner straight away: no
Prism download attempt), the worker count chosen by batch size, and forked worker processes that
give exactly the outputs of one in-process worker."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from apache_beam.metrics import MetricsFilter
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions
from apache_beam.runners.portability import prism_runner
from apache_beam.runners.portability.fn_api_runner import fn_runner
from apache_beam.runners.runner import create_runner

from feedline.local.sample_data import generate
from feedline.orchestrate import launch
from feedline.validate.columnar import FileRange
from feedline.settings import REPO_ROOT
from feedline_beam import local_runner, pipeline

from .test_pipeline import AT, BATCH, QUIRK_FILES, read_output

CONTRACT = str(REPO_ROOT / "contracts" / "transactions.yaml")
LAUNCH_ARGS = [f"--runner={launch.LOCAL_RUNNER}", *(f"--{k}={v}" for k, v in launch.LOCAL_WORKER_OPTIONS.items())]


def job_args(input_pattern: str, out: Path, *extra: str) -> list[str]:
    return ["--feed", "transactions", "--contract", CONTRACT, "--input", input_pattern,
            "--output_prefix", f"{out}/", "--batch_id", BATCH, "--ingested_at", AT, *extra]


def test_the_launch_spec_names_the_local_runner_which_is_fnapi_not_directrunner():
    assert launch.LOCAL_RUNNER == local_runner.NAME
    runner = create_runner(launch.LOCAL_RUNNER)  # how Beam resolves --runner
    assert type(runner) is local_runner.LocalRunner and isinstance(runner, fn_runner.FnApiRunner)
    assert launch.LOCAL_WORKER_OPTIONS == {"direct_num_workers": 0, "direct_running_mode": "multi_processing"}


@pytest.mark.parametrize(("extra", "batch_mb", "workers", "mode"), [
    ([], pipeline.PARALLEL_MIN_MB - 1, 1, "in_memory"),  # a small batch stays in the job's process
    ([], pipeline.PARALLEL_MIN_MB, 2, "multi_processing"),  # a large one: one worker per core
    (["--direct_num_workers=3"], 1, 3, "multi_processing"),  # an explicit count is kept
])
def test_the_job_picks_workers_by_batch_size(monkeypatch, extra, batch_mb, workers, mode):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    options = PipelineOptions([*LAUNCH_ARGS, *extra])
    assert pipeline.choose_local_workers(options, batch_mb << 20) == workers
    direct = options.view_as(DirectOptions)
    assert (direct.direct_num_workers, direct.direct_running_mode) == (workers, mode)
    # Ranges: a local multi-worker batch is cut into one range per worker.
    if workers > 1 and not extra:
        assert pipeline.range_bytes(options, 300 << 20) == 150 << 20


def test_a_local_run_never_tries_prism(monkeypatch, tmp_path):
    """DirectRunner tries Prism first (downloading its binary); the launch spec's runner does not."""
    tried = []
    monkeypatch.setattr(prism_runner.PrismRunner, "run_pipeline", lambda *a, **k: tried.append(a) or 1 / 0)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "transactions_20261125_ok.csv").write_bytes(QUIRK_FILES["transactions_20261125_bad_rows.csv"])
    result = pipeline.run(job_args(str(tmp_path / "in" / "*"), tmp_path / "out", *LAUNCH_ARGS))
    assert tried == []
    assert isinstance(result, fn_runner.RunnerResult)
    (read,) = result.metrics().query(MetricsFilter().with_name("rows_read"))["counters"]
    assert read.committed == 10


def test_two_forked_workers_write_what_one_worker_writes(tmp_path):
    """The job as the DAG runs it (a script, the launch spec's runner), with two worker processes:
    a large file split into ranges plus small files; outputs equal one in-process worker's."""
    data = tmp_path / "in"
    data.mkdir()
    (data / "transactions_20261125.csv").write_bytes(generate("transactions", 40_000, 0.03, 3, date(2026, 11, 25)))
    for name in ("transactions_20261125_bad_rows.csv", "transactions_20261125_quoted.csv",
                 "transactions_20261125_renamed.csv", "transactions_20261125_ok.csv.gz"):
        (data / name).write_bytes(QUIRK_FILES[name])
    pattern = str(data / "*")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "plugins"), str(REPO_ROOT / "beam_jobs")])}
    two = subprocess.run(
        [sys.executable, "-m", "feedline_beam.pipeline", *job_args(pattern, tmp_path / "two", *LAUNCH_ARGS),
         "--direct_num_workers=2", "--range_mb=1"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    assert "2 worker processes forked" in two.stderr and "Prism" not in two.stderr
    one = pipeline.run(job_args(pattern, tmp_path / "one", f"--runner={launch.LOCAL_RUNNER}", "--direct_num_workers=1"))
    assert one.metrics().query(MetricsFilter().with_name("file_ranges"))["counters"][0].committed == len(os.listdir(data))
    # Each range wrote its own file: the large file's two ranges with two workers, one with one.
    for run, ranges in (("two", 2), ("one", 1)):
        for output, suffix in (("valid", ".parquet"), ("deadletter", ".parquet")):
            assert sorted(f.name for f in (tmp_path / run / output).iterdir()) == sorted(
                pipeline.part_name(name, FileRange(k, ranges if name == "transactions_20261125.csv" else 1)) + suffix
                for name in os.listdir(data) for k in range(ranges if name == "transactions_20261125.csv" else 1)
            ), (run, output)
    for output in ("valid", "deadletter", "summary"):
        def key(row):
            return (row.get("_source_file") or row["source_file"], row.get("_line_number") or 0)
        got, want = sorted(read_output(tmp_path / "two", output), key=key), sorted(read_output(tmp_path / "one", output), key=key)
        assert got == want and want, output
