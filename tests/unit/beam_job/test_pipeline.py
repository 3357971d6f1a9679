"""The Beam job end to end on DirectRunner: every quirk file through ValidateBatch (assert_that on
valid, deadletter and summary), the files the DAG loads, counters, ranges and both engines."""

from __future__ import annotations

import gzip
import io
import json
from datetime import date
from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.metrics import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from feedline.contract import tables
from feedline.contract.model import load_contracts
from feedline.validate import outputs
from feedline.validate.outputs import Stamp, summary_row
from feedline.local.sample_data import generate
from feedline_beam import pipeline
from feedline_beam.pipeline import ValidateBatch

from feedline.settings import REPO_ROOT
from engines import row_path

TX = load_contracts()["transactions"]
HEADER = "transaction_id,customer_id,amount,currency,status,transaction_ts"
BATCH, AT = "b_test", "2026-11-27T08:15:00.000000Z"


def tx(*rows: str, eol: str = "\r\n", header: str = HEADER) -> bytes:
    return (eol.join([header, *rows]) + eol).encode()


GOOD = "ID1,C1,10.00,EUR,settled,2026-11-25T10:00:00Z"
QUIRK_FILES = {
    # accepted files, with row-level quirks
    "transactions_20261125_bom_crlf.csv": b"\xef\xbb\xbf" + tx(GOOD, "", GOOD.replace("ID1", "T2"), "", ""),
    "transactions_20261125_mixed.csv": (HEADER + "\n" + GOOD + "\r" + GOOD.replace("ID1", "T2") + "\r\n").encode(),
    "transactions_20261125_quoted.csv": tx('ID1,"C1\nc/o, ""Accounts""",10.00,EUR,settled,2026-11-25T10:00:00Z', GOOD),
    "transactions_20261125_bad_rows.csv": tx(
        GOOD + ",extra", "T2,C2,10.00,EUR", "T3,C\x003,1.00,EUR,settled,2026-11-25T10:00:00Z",
        GOOD.replace("ID1", "T4").replace("10.00", '"1,234.50"'), GOOD.replace("ID1", "T5").replace("10.00", "1e3"),
        GOOD.replace("ID1", "T6").replace("2026-11-25T10:00:00Z", "2026-02-30T00:00:00Z"),
        GOOD.replace("ID1", "T7").replace("2026-11-25T10:00:00Z", "2026-11-25 09:00:00+01:00"),
        GOOD.replace("ID1", "  T8  ").replace("EUR", ""), GOOD.replace("ID1", "T9").replace("C1", '""'),
    ) + "T10,C\xe9,1.00,EUR,settled,2026-11-25T10:00:00Z\r\n".encode("latin-1"),
    "transactions_20261125_reordered.csv": tx("2026-11-25T10:00:00Z,settled,EUR,10.00,C1,T1",
                                               header="transaction_ts,status,currency,amount,customer_id,transaction_id"),
    "transactions_20261125_header_only.csv": HEADER.encode(),
    "transactions_20261125_ok.csv.gz": gzip.compress(tx(GOOD, GOOD.replace("ID1", "T2"))),
    # rejected files
    "transactions_20261125_renamed.csv": tx(GOOD, header=HEADER.replace("amount", "amt")),
    "transactions_20261125_duplicate.csv": tx(GOOD + ",x", header=HEADER + ",status"),
    "transactions_20261125_empty.csv": b"",
    "transactions_20261125_truncated.csv.gz": gzip.compress(tx(*[GOOD.replace("ID1", f"T{i}") for i in range(3000)]))[:3000],
    "transactions_20261125_runaway.csv": tx(GOOD, 'T2,"C2' + "x" * (8 * 1024 * 1024 + 10)),
}


@pytest.fixture(scope="module")
def quirk_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("quirks")
    for name, data in QUIRK_FILES.items():
        (directory / name).write_bytes(data)
    return directory


def reference(directory: Path) -> tuple[list[dict], list[dict], list[dict]]:
    valid, dead, summaries = [], [], []
    for name, data in sorted(QUIRK_FILES.items()):
        out = row_path(TX, data, Stamp(BATCH, AT, name))
        valid += out.valid_rows
        dead += out.deadletter_rows
        summaries.append(summary_row(out.summary, name))
    return valid, dead, summaries


def rows(parts, label: str):
    return parts | f"Rows{label}" >> beam.FlatMap(lambda part: part[1].rows())


@pytest.mark.parametrize("engine", ["columnar", "row"])
def test_every_quirk_file_through_the_job(quirk_dir, engine):
    valid, dead, summaries = reference(quirk_dir)
    by_file = {s["source_file"]: s for s in summaries}
    # What the reference decided, spelled out for a few files.
    assert by_file["transactions_20261125_renamed.csv"]["file_error"] == (
        "header does not match the transactions contract: missing amount; unexpected amt")
    assert by_file["transactions_20261125_duplicate.csv"]["file_error"] == "header has duplicate column names: status"
    assert by_file["transactions_20261125_empty.csv"]["file_error"] == "empty file: no header"
    assert by_file["transactions_20261125_truncated.csv.gz"]["file_error"].startswith("unreadable compressed file at line ")
    assert by_file["transactions_20261125_runaway.csv"]["file_error"].startswith("unparseable CSV at line 3: field larger")
    assert by_file["transactions_20261125_header_only.csv"] | {"rows_read": 0, "file_error": None} == by_file[
        "transactions_20261125_header_only.csv"]
    assert json.loads(by_file["transactions_20261125_bad_rows.csv"]["reasons"]) == {
        "wrong number of fields: expected 6": 2, "contains a NUL byte": 1, "not valid UTF-8": 1,
        "amount: not a plain decimal NUMERIC": 2, "transaction_ts: timestamp does not exist": 1,
        "customer_id: required value is missing": 1,
    }
    accepted = {name for name, s in by_file.items() if not s["file_error"]}
    assert sum(by_file[name]["rows_read"] for name in accepted) == len(
        [r for r in valid + dead if r["_source_file"] in accepted])  # nothing lost

    with BeamTestPipeline() as p:
        results = p | ValidateBatch(TX, str(quirk_dir / "*"), BATCH, AT, engine=engine)
        assert_that(rows(results.valid, "Valid"), equal_to(valid), label="valid")
        assert_that(rows(results.deadletter, "Deadletter"), equal_to(dead), label="deadletter")
        assert_that(results.summary, equal_to(summaries), label="summary")


def run_job(input_pattern: str, out: Path, *extra: str):
    return pipeline.run([
        "--feed", "transactions", "--contract", str(REPO_ROOT / "contracts" / "transactions.yaml"),
        "--input", input_pattern, "--output_prefix", str(out) + "/", "--batch_id", BATCH, "--ingested_at", AT, *extra,
    ])


def read_output(out: Path, output: str) -> list[dict]:
    """An output's rows, decoded: Parquet (valid, deadletter) or JSON lines (summary)."""
    files = sorted((out / output).glob("*"))
    if output == "summary":
        return [json.loads(line) for f in files for line in f.read_text("utf-8").splitlines()]
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def test_counters_per_feed_and_per_file_are_queryable_from_the_result(quirk_dir, tmp_path):
    result = run_job(str(quirk_dir / "*"), tmp_path)
    counters = {c.key.metric.name: c.committed for c in result.metrics().query(
        MetricsFilter().with_namespace("transactions"))["counters"]}
    summaries = {s["source_file"]: s for s in read_output(tmp_path, "summary")}
    assert counters["rows_read"] == sum(s["rows_read"] for s in summaries.values())
    assert counters["rows_valid"] == sum(s["rows_valid"] for s in summaries.values())
    assert counters["rows_deadletter"] == sum(s["rows_deadletter"] for s in summaries.values())
    assert counters["files_rejected"] == sum(1 for s in summaries.values() if s["file_error"])
    for name, summary in summaries.items():
        for metric in ("rows_read", "rows_valid", "rows_deadletter"):
            assert counters.get(f"{metric}/{name}", 0) == summary[metric], (metric, name)
    # One counter can be asked for by name, as a monitoring query would.
    (read,) = result.metrics().query(MetricsFilter().with_name("rows_read/transactions_20261125_bad_rows.csv"))[
        "counters"]
    assert read.committed == 10


def test_written_files_hold_what_the_dag_loads(quirk_dir, tmp_path):
    run_job(str(quirk_dir / "*"), tmp_path)
    for output in tables.LOAD_OUTPUTS:
        fields = {f["name"]: f for f in tables.load_output_schema(TX, output)}
        loaded = read_output(tmp_path, output)
        assert loaded, output
        for row in loaded:
            assert set(row) == set(fields), (output, row)
            for name, field in fields.items():
                assert row[name] is not None or field["mode"] == "NULLABLE", (output, name)
    assert len(read_output(tmp_path, "summary")) == len(QUIRK_FILES)
    for row in read_output(tmp_path, "deadletter"):  # the record's bytes, as they are (BYTES)
        assert row["raw_bytes"].decode("utf-8", "backslashreplace") == row["raw_line"]
    for output in ("valid", "deadletter"):  # Parquet of the load schema's exact types
        (first, *_) = sorted((tmp_path / output).glob("*.parquet"))
        assert pq.read_schema(first) == (outputs.valid_schema(TX) if output == "valid" else outputs.deadletter_schema())


def test_a_launch_replaces_what_an_earlier_attempt_left(quirk_dir, tmp_path):
    """A killed attempt's files (committed parts of another range plan, a half-written
    temporary one) are gone once the job runs again: its outputs are those of a clean run."""
    run_job(str(quirk_dir / "*"), tmp_path / "clean")
    left = {"valid/part-transactions_20261125_ok.csv.gz-00000000-00001-of-00002.parquet": b"PAR1 half",
            "deadletter/tmp-part-x-00000-of-00001.parquet": b"PAR1",
            "summary/part-old.jsonl": b'{"source_file": "old.csv"}\n'}
    for name, data in left.items():
        (tmp_path / "again" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "again" / name).write_bytes(data)
    run_job(str(quirk_dir / "*"), tmp_path / "again")
    for output in ("valid", "deadletter", "summary"):
        names = sorted(f.name for f in (tmp_path / "again" / output).iterdir())
        assert names == sorted(f.name for f in (tmp_path / "clean" / output).iterdir()), output
        assert all(name.startswith("part-") for name in names), output
        assert read_output(tmp_path / "again", output) == read_output(tmp_path / "clean", output)


@pytest.mark.parametrize("folder, written", [
    ("gs://work/batch/valid/", "gs://work/batch/valid/part-x.parquet"),  # whole once uploaded: no rename
    ("/out/valid/", "/out/valid/tmp-part-x.parquet"),  # a local file: renamed once complete
])
def test_an_output_file_is_renamed_only_where_a_partial_file_could_be_seen(folder, written, monkeypatch):
    """A GCS object appears only once its upload completes; a rename there is a copy and a
    delete per file (a batch of 100 small files: 15-18 s -> 6-7 s of the job)."""
    created, renamed = [], []
    monkeypatch.setattr(pipeline.FileSystems, "create", lambda path, *a: created.append(path) or io.BytesIO())
    monkeypatch.setattr(pipeline.FileSystems, "rename", lambda src, dst: renamed.append((src, dst)))
    pipeline._PartFile(folder, "part-x.parquet", "application/x-parquet").commit()
    assert created == [written]
    assert renamed == ([] if written == folder + "part-x.parquet" else [([written], [folder + "part-x.parquet"])])


def test_a_large_file_split_into_ranges_gives_the_outputs_of_the_row_engine(tmp_path):
    path = tmp_path / "in" / "transactions_20261125.csv"
    path.parent.mkdir()
    path.write_bytes(generate("transactions", 40_000, 0.03, 3, date(2026, 11, 25)))
    assert path.stat().st_size > 2 * 1024 * 1024
    split = run_job(str(path), tmp_path / "split", "--range_mb=1", "--block_mb=1")
    ranges = split.metrics().query(MetricsFilter().with_name("file_ranges"))["counters"][0].committed
    assert ranges >= 2
    run_job(str(path), tmp_path / "row", "--engine=row")
    for output in ("valid", "deadletter", "summary"):
        key = (lambda r: r["_line_number"]) if output != "summary" else (lambda r: r["source_file"])
        assert sorted(read_output(tmp_path / "split", output), key=key) == sorted(
            read_output(tmp_path / "row", output), key=key), output
