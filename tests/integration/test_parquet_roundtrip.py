"""Every value the Beam job writes comes back exactly from BigQuery (the emulator): the job's own
graph (pipeline.build: validate, then WriteParts) writes Parquet to the GCS
emulator, and the load job reads it as the DAG's load_valid / load_deadletter do
(tables.LOAD_FORMATS, PARQUET_DECIMAL_TARGET_TYPES, the load schema).

NUMERIC is a Parquet DECIMAL(38, 9): 29 integer and 9 fractional digits arrive as they were
written, with no float step (a float would lose the digits past the 15th/17th). TIMESTAMP keeps
its microseconds, DATE its range ends, BYTES every byte, STRING its Unicode.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from google.api_core.exceptions import GoogleAPICallError
from google.cloud import bigquery

from feedline.contract import tables
from feedline.validate.outputs import Stamp
from feedline_beam import pipeline
from engines import EVERYTHING, EVERYTHING_HEADER, row_path
from support import rows

BATCH, AT = "b_roundtrip", "2026-11-27T08:15:00.123456Z"
SOURCE = "everything_20261127.csv"
UTC = timezone.utc
# id,name,email,country,code,amount,qty,ratio,active,day,ts
LINES = [
    "A1,Grüße 😀 日本,émile@exämple.fr,DE,ABC,99999999999999999999999999999.999999999,9223372036854775807,0.1,true,0001-01-01,0001-01-01T00:00:00Z",
    "A2,Ann,ann@example.com,GB,XYZ,-12345678901234567890123456789.123456789,-9223372036854775808,-1e300,false,9999-12-31,9999-12-31T23:59:59.999999Z",
    "A3,,,,,,,,,,2026-11-25T10:00:00.000001+05:30",  # NULLs everywhere a value may be missing
    "A4,\"say \"\"hi\"\"\\\",ann@example.com,GB,ABC,0.000000001,0,5e-324,1,2024-02-29,2024-02-29 23:59:59.5 UTC",
    "A5,Ann,ann@example.com,GB,ABC,1e5,1,1,true,2026-11-25,2026-11-25T10:00:00Z",  # deadletter: not plain NUMERIC
    "A6,Ren\xe9e,ann@example.com,GB,ABC,1,1,1,true,2026-11-25,2026-11-25T10:00:00Z",  # deadletter: not UTF-8 (latin-1)
]
DATA = (EVERYTHING_HEADER + "\n" + "\n".join(LINES) + "\n").encode("utf-8").replace("Ren\xe9e".encode(), b"Ren\xe9e")


@pytest.fixture(scope="module")
def written(tmp_path_factory, local_stack):
    """The batch written by the job's graph to the GCS emulator: its gs:// output prefix."""
    from feedline.settings import from_env
    from feedline.local.provision import storage_client

    settings = from_env()
    folder = tmp_path_factory.mktemp("roundtrip")
    (folder / SOURCE).write_bytes(DATA)
    prefix = f"gs://{settings.work_bucket}/test/{BATCH}/"
    for blob in storage_client(settings.project).list_blobs(settings.work_bucket, prefix=f"test/{BATCH}/"):
        blob.delete()
    pipeline.use_emulator_credentials()
    options = PipelineOptions([
        "--feed", "everything", "--contract", "unused", "--input", str(folder / SOURCE), "--output_prefix", prefix,
        "--batch_id", BATCH, "--ingested_at", AT,
    ])
    with beam.Pipeline(options=options) as p:
        pipeline.build(p, EVERYTHING, options)
    return settings, prefix


def load(bq, settings, prefix: str, output: str) -> str:
    """The DAG's load job for one output (dag_factory.load_output's configuration)."""
    table = f"{settings.project}.{tables.dataset_names()['load']}.roundtrip_{output}"
    fmt = tables.LOAD_FORMATS[output]
    config = bigquery.LoadJobConfig(
        source_format=fmt, write_disposition="WRITE_TRUNCATE", max_bad_records=0,
        schema=[bigquery.SchemaField.from_api_repr(f) for f in tables.load_output_schema(EVERYTHING, output)],
    )
    if fmt == "PARQUET":
        config.decimal_target_types = tables.PARQUET_DECIMAL_TARGET_TYPES
    bq.load_table_from_uri(f"{prefix}{output}/*", table, job_config=config).result()
    return table


def test_every_valid_value_round_trips_exactly_through_bigquery(written, bq):
    settings, prefix = written
    table = load(bq, settings, prefix, "valid")
    got = rows(bq, f"SELECT * FROM `{table}` ORDER BY _line_number")
    expected = row_path(EVERYTHING, DATA, Stamp(BATCH, AT, SOURCE)).valid_rows
    assert [r["id"] for r in expected] == ["A1", "A2", "A3", "A4"]
    assert got == expected  # every column, every value, decoded by the BigQuery client
    # spelled out, for the values that a lossy step would change
    first, second, nulls, fourth = got
    assert first["amount"] == Decimal("99999999999999999999999999999.999999999")
    assert second["amount"] == Decimal("-12345678901234567890123456789.123456789")
    assert fourth["amount"] == Decimal("0.000000001")
    assert (first["day"], second["day"]) == (date(1, 1, 1), date(9999, 12, 31))
    assert first["ts"] == datetime(1, 1, 1, tzinfo=UTC)
    assert second["ts"] == datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert nulls["ts"] == datetime(2026, 11, 25, 4, 30, 0, 1, tzinfo=UTC)
    assert fourth["ts"] == datetime(2024, 2, 29, 23, 59, 59, 500000, tzinfo=UTC)
    assert first["_ingested_at"] == datetime(2026, 11, 27, 8, 15, 0, 123456, tzinfo=UTC)
    assert (first["qty"], second["qty"], first["ratio"], fourth["ratio"]) == (2**63 - 1, -(2**63), 0.1, 5e-324)
    assert first["name"] == "Grüße 😀 日本" and first["email"] == "émile@exämple.fr" and fourth["name"] == 'say "hi"\\'
    assert all(nulls[c] is None for c in ("name", "email", "country", "code", "amount", "qty", "ratio", "active", "day"))
    # NUMERIC as BigQuery prints it: the exact digits (no float step on the way)
    text = rows(bq, f"SELECT CAST(amount AS STRING) AS s FROM `{table}` WHERE amount IS NOT NULL ORDER BY _line_number")
    assert [r["s"] for r in text] == ["99999999999999999999999999999.999999999",
                                      "-12345678901234567890123456789.123456789", "0.000000001"]


def test_every_deadletter_value_round_trips_exactly_through_bigquery(written, bq):
    settings, prefix = written
    table = load(bq, settings, prefix, "deadletter")
    got = rows(bq, f"SELECT * FROM `{table}` ORDER BY _line_number")
    expected = row_path(EVERYTHING, DATA, Stamp(BATCH, AT, SOURCE)).deadletter_rows
    assert got == expected
    assert [r["reason"] for r in got] == ["amount: not a plain decimal NUMERIC", "not valid UTF-8"]
    assert got[1]["raw_bytes"] == DATA.split(b"\n")[6] + b"\n" and b"\xe9" in got[1]["raw_bytes"]


def test_the_load_tables_have_bigquerys_types(written, bq):
    settings, prefix = written
    table = load(bq, settings, prefix, "valid")
    types = {f.name: f.field_type for f in bq.get_table(table).schema}
    assert (types["amount"], types["ts"], types["day"]) == ("NUMERIC", "TIMESTAMP", "DATE")


def test_emulator_fails_a_parquet_load_whose_schema_names_a_column_the_file_lacks(written, bq):
    """Why the valid load schema lists only the columns the job's files hold, and publish_raw
    gives carried evolved columns NULL (columns.valid_load_schema): the emulator rejects such a
    load. (If this starts passing, the emulator fills the column with NULL and the load schema
    could name every carried column.)"""
    settings, prefix = written
    table = f"{settings.project}.{tables.dataset_names()['load']}.roundtrip_missing"
    fields = [*tables.load_output_schema(EVERYTHING, "valid"), {"name": "carried", "type": "STRING", "mode": "NULLABLE"}]
    config = bigquery.LoadJobConfig(source_format="PARQUET", write_disposition="WRITE_TRUNCATE",
                                    schema=[bigquery.SchemaField.from_api_repr(f) for f in fields],
                                    decimal_target_types=tables.PARQUET_DECIMAL_TARGET_TYPES)
    with pytest.raises(GoogleAPICallError):
        bq.load_table_from_uri(f"{prefix}valid/*", table, job_config=config).result()


def test_the_job_writes_dictionaries_for_repeated_strings_only_and_no_statistics(written):
    import io

    import pyarrow.parquet as pq

    from feedline.local.provision import storage_client

    settings, prefix = written
    bucket, folder = prefix.removeprefix("gs://").split("/", 1)
    blob = next(b for b in storage_client(settings.project).list_blobs(bucket, prefix=f"{folder}valid/")
                if b.name.endswith(".parquet"))
    metadata = pq.ParquetFile(io.BytesIO(blob.download_as_bytes())).metadata
    columns = [metadata.row_group(0).column(i) for i in range(metadata.num_columns)]
    with_dictionary = {c.path_in_schema for c in columns if c.dictionary_page_offset is not None}
    assert "id" in EVERYTHING.key and "id" not in with_dictionary  # the key: unique values
    assert {"name", "country", "_batch_id", "_source_file"} <= with_dictionary
    assert not with_dictionary & {"amount", "ts", "_line_number"}
    assert not any(c.is_stats_set for c in columns)
