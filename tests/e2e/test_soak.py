"""``feedline soak`` at a size CI affords (``make soak`` is the full one: 200 files, 2M rows):
the real command on a stack of its own (its folder, free ports, the real Airflow components as
``feedline local up`` starts them), judged by its last line, whose figures it reads from the
tables (tests/unit/local/test_soak.py shows they count a lost or doubled row)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_services import free_port

pytestmark = pytest.mark.airflow

FILES, ROWS, BAD_FILES = 20, 20_000, 3
LAST_LINE = re.compile(
    r"files=(?P<files>\d+) rows=(?P<rows>\d+) rows_per_s=(?P<rows_per_s>\d+) batches=(?P<batches>\d+) "
    r"beam_jobs=(?P<beam_jobs>\d+) lost=(?P<lost>\d+) duplicated=(?P<duplicated>\d+)"
)


def feedline(env: dict[str, str], *args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "feedline"), *args], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
    )


def test_a_reduced_soak_counts_every_row_once_with_one_beam_job_per_batch(tmp_path):
    env = {
        # nothing of the session's stack (its folder, ports, emulator hosts): the command sets its own
        **{k: v for k, v in os.environ.items()
           if not k.startswith(("FEEDLINE_", "AIRFLOW", "STORAGE_EMULATOR", "BIGQUERY_EMULATOR", "BQEMU_"))},
        "FEEDLINE_LOCAL_DIR": str(tmp_path / "stack"),
        **{f"FEEDLINE_{name}_PORT": str(free_port())
           for name in ("GCS", "BQ", "BQ_GRPC", "SLACK", "AIRFLOW", "AIRFLOW_LOG")},
    }
    started = time.monotonic()
    try:
        result = feedline(env, "soak", "--files", str(FILES), "--rows", str(ROWS), "--bad-files", str(BAD_FILES),
                          timeout=720)
    finally:
        feedline(env, "local", "down", timeout=120)
    print(result.stdout[-3000:])
    print(f"reduced soak: {time.monotonic() - started:.0f}s with the stack's start")
    last = result.stdout.rstrip().splitlines()[-1]
    figures = LAST_LINE.fullmatch(last)
    assert figures, result.stdout[-3000:]
    n = {k: int(v) for k, v in figures.groupdict().items()}
    assert (n["lost"], n["duplicated"]) == (0, 0), result.stdout[-3000:]
    assert n["beam_jobs"] == n["batches"] >= 2, last  # one per batch, at least one batch per feed
    assert n["batches"] < FILES - BAD_FILES, last  # a batch takes many files: never one job per file
    assert (n["files"], n["rows"]) == (FILES, ROWS), last  # every file in the audit; every record in a table
    assert result.returncode == 0, result.stdout[-3000:]
