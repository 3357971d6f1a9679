"""The SQL in sql/, rendered as the DAG renders it, run on the BigQuery emulator."""

from __future__ import annotations

from decimal import Decimal

import pytest
from google.api_core.exceptions import NotFound
from google.cloud import bigquery

from feedline.contract import tables
from feedline.orchestrate import sql
from support import reset, rows

INGESTED_AT = "2026-11-27T08:00:00.000000Z"


@pytest.fixture
def clean(settings, contracts):
    reset(settings, contracts)


def run(bq, settings, template: str, params: dict, **values) -> None:
    """``params`` may carry the batch's ``load_tables`` (what the DAG's macro gives the templates)."""
    params = dict(params)
    statement = sql.render(settings, template, params=params, load_tables=params.pop("load_tables", {}))
    types = {"batch_id": "STRING", "ingested_at": "TIMESTAMP", "attempt": "INT64", "dag_run_id": "STRING",
             "partition_min": "DATE", "partition_max": "DATE", "dry_run": "BOOL"}
    query_parameters = [bigquery.ScalarQueryParameter(k, types[k], v) for k, v in values.items()]
    bq.query(statement, job_config=bigquery.QueryJobConfig(query_parameters=query_parameters)).result()


def insert(bq, table: str, records: list[dict]) -> None:
    """Fill a table with literal rows through a query (insertAll 500s on the emulator)."""
    columns = list(records[0])
    values = ", ".join(
        "(" + ", ".join("NULL" if r[c] is None else repr(r[c]) if not isinstance(r[c], str) else "'" + r[c].replace("'", "\\'") + "'" for c in columns) + ")"
        for r in records
    )
    bq.query(f"INSERT INTO `{table}` ({', '.join(columns)}) VALUES {values}").result()


def customer(cid: str, email: str, updated: str, batch: str, line: int, source: str = "customers_20261125.csv") -> dict:
    return {
        "customer_id": cid, "email": email, "full_name": None, "country": "DE", "signup_date": None,
        "updated_at": updated, "_batch_id": batch, "_source_file": source, "_line_number": line,
        "_ingested_at": INGESTED_AT,
    }


def create_load_tables(bq, settings, contract, batch: str) -> dict:
    """The batch's own load tables, empty; returns the templates' params with their names."""
    p = {**sql.template_params(settings, contract), "load_tables": sql.load_tables(settings, contract, batch)}
    for output in ("valid", "summary", "deadletter"):
        table = bigquery.Table(
            sql.load_table_ref(settings, contract, output, batch),
            schema=[bigquery.SchemaField.from_api_repr(f) for f in tables.load_output_schema(contract, output)],
        )
        bq.delete_table(table, not_found_ok=True)
        bq.create_table(table)
    return p


def load_customers_batch(bq, settings, contract, batch: str, records: list[dict], rejected: tuple[str, ...] = ()):
    """Put a batch where the Beam job + load tasks would: the batch's own load tables."""
    p = create_load_tables(bq, settings, contract, batch)
    insert(bq, p["load_tables"]["valid"], records)
    files = sorted({r["_source_file"] for r in records} | set(rejected))
    insert(bq, p["load_tables"]["summary"], [
        {"source_file": f, "feed": "customers", "rows_read": sum(r["_source_file"] == f for r in records),
         "rows_valid": 0, "rows_deadletter": 0, "file_error": "bad header" if f in rejected else None}
        for f in files
    ])
    return p


def publish_raw(bq, settings, p, batch):
    run(bq, settings, "publish_batch.sql",
        {**p, "target_table": p["raw_table"], "load_output": "valid", "target_columns": p["raw_columns"]},
        batch_id=batch, ingested_at=INGESTED_AT)


def test_publish_is_idempotent_and_skips_rejected_files(clean, bq, settings, contracts):
    contract = contracts["customers"]
    records = [customer("C1", "a@x.io", "2026-11-25T10:00:00Z", "b1", 2),
               customer("C2", "b@x.io", "2026-11-25T10:00:00Z", "b1", 3),
               customer("C3", "c@x.io", "2026-11-25T10:00:00Z", "b1", 2, source="customers_20261125_bad.csv")]
    p = load_customers_batch(bq, settings, contract, "b1", records, rejected=("customers_20261125_bad.csv",))
    insert(bq, p["raw_table"], [customer("C9", "old@x.io", "2026-11-24T10:00:00Z", "b0", 2)])
    for _ in range(2):
        publish_raw(bq, settings, p, "b1")
        published = rows(bq, f"SELECT _batch_id, customer_id FROM `{p['raw_table']}` ORDER BY customer_id")
        assert published == [{"_batch_id": "b1", "customer_id": "C1"}, {"_batch_id": "b1", "customer_id": "C2"},
                             {"_batch_id": "b0", "customer_id": "C9"}]
    # the same batch re-run after C2's file turned out bad: its rows leave raw, b0 stays
    p = load_customers_batch(bq, settings, contract, "b1", records[:1] + [records[1] | {"_source_file": "x.csv"}],
                             rejected=("x.csv",))
    publish_raw(bq, settings, p, "b1")
    assert [r["customer_id"] for r in rows(bq, f"SELECT customer_id FROM `{p['raw_table']}` ORDER BY 1")] == ["C1", "C9"]


def test_merge_dedupes_latest_wins_and_reruns_change_nothing(clean, bq, settings, contracts):
    contract = contracts["customers"]
    p = sql.template_params(settings, contract)
    insert(bq, p["raw_table"], [
        customer("C1", "first@x.io", "2026-11-25T10:00:00Z", "b1", 2),
        customer("C1", "latest@x.io", "2026-11-25T12:00:00Z", "b1", 3),
        customer("C1", "middle@x.io", "2026-11-25T11:00:00Z", "b1", 4),
        customer("C2", "c2@x.io", "2026-11-25T10:00:00Z", "b1", 5),
    ])
    for _ in range(2):
        run(bq, settings, "merge_staging.sql", p, batch_id="b1", ingested_at=INGESTED_AT)
        staged = rows(bq, f"SELECT customer_id, email FROM `{p['staging_table']}` ORDER BY 1")
        assert staged == [{"customer_id": "C1", "email": "latest@x.io"}, {"customer_id": "C2", "email": "c2@x.io"}]
    # an older version arriving later does not win; a newer one does
    insert(bq, p["raw_table"], [
        customer("C1", "stale@x.io", "2026-11-20T00:00:00Z", "b2", 2, source="customers_20261120.csv"),
        customer("C2", "new@x.io", "2026-11-26T00:00:00Z", "b2", 3, source="customers_20261126.csv"),
    ])
    run(bq, settings, "merge_staging.sql", p, batch_id="b2", ingested_at=INGESTED_AT)
    staged = rows(bq, f"SELECT customer_id, email, _source_file FROM `{p['staging_table']}` ORDER BY 1")
    assert staged == [
        {"customer_id": "C1", "email": "latest@x.io", "_source_file": "customers_20261125.csv"},
        {"customer_id": "C2", "email": "new@x.io", "_source_file": "customers_20261126.csv"},
    ]


def transaction(tid: str, amount: str, ts: str, batch: str, line: int, source="transactions_20261125.csv") -> dict:
    return {"transaction_id": tid, "customer_id": "C1", "amount": amount, "currency": "EUR", "status": "settled",
            "transaction_ts": ts, "_batch_id": batch, "_source_file": source, "_line_number": line,
            "_ingested_at": INGESTED_AT}


def test_merge_without_latest_by_updates_only_changed_rows_in_the_batch_partitions(clean, bq, settings, contracts):
    contract = contracts["transactions"]
    p = sql.template_params(settings, contract)
    assert p["partition_day"] == "DATE(transaction_ts)"
    insert(bq, p["raw_table"], [
        transaction("T1", "10.00", "2026-11-25T10:00:00Z", "b1", 2),
        transaction("T2", "20.00", "2026-11-26T10:00:00Z", "b1", 3),
    ])
    days = {"partition_min": "2026-11-25", "partition_max": "2026-11-26"}
    run(bq, settings, "merge_staging.sql", p, batch_id="b1", ingested_at=INGESTED_AT, **days)
    # same file dropped again (new batch): nothing changes, not even _source_file
    insert(bq, p["raw_table"], [
        transaction("T1", "10.00", "2026-11-25T10:00:00Z", "b2", 2, source="transactions_20261125_again.csv"),
        transaction("T2", "25.00", "2026-11-26T10:00:00Z", "b2", 3, source="transactions_20261125_again.csv"),
    ])
    run(bq, settings, "merge_staging.sql", p, batch_id="b2", ingested_at=INGESTED_AT, **days)
    staged = rows(bq, f"SELECT transaction_id, amount, _source_file FROM `{p['staging_table']}` ORDER BY 1")
    assert staged == [
        {"transaction_id": "T1", "amount": Decimal("10"), "_source_file": "transactions_20261125.csv"},
        {"transaction_id": "T2", "amount": Decimal("25"), "_source_file": "transactions_20261125_again.csv"},
    ]
    # the reporting view follows staging after a refresh
    view = p["reporting_views"][0]
    bq.query(sql.refresh_statement(view)).result()
    totals = rows(bq, f"SELECT transaction_date, total_amount FROM `{view}` ORDER BY 1")
    assert [(str(r["transaction_date"]), r["total_amount"]) for r in totals] == [
        ("2026-11-25", Decimal("10")), ("2026-11-26", Decimal("25"))]


def test_audit_rewrites_a_retry_and_adds_a_rerun(clean, bq, settings, contracts):
    contract = contracts["customers"]
    records = [customer("C1", "a@x.io", "2026-11-25T10:00:00Z", "b1", 2)]
    p = load_customers_batch(bq, settings, contract, "b1", records, rejected=("customers_20261125_v2.csv",))
    publish_raw(bq, settings, p, "b1")
    for attempt in (0, 0, 1):
        run(bq, settings, "record_audit.sql", p, batch_id="b1", attempt=attempt, dag_run_id="run-1",
            ingested_at=INGESTED_AT, dry_run=False)
    audit = rows(bq, f"SELECT attempt, source_file, status, rows_read, rows_loaded, rows_deadletter, reason "
                     f"FROM `{p['audit_table']}` ORDER BY attempt, source_file")
    assert audit == [
        {"attempt": a, "source_file": "customers_20261125.csv", "status": "loaded", "rows_read": 1,
         "rows_loaded": 1, "rows_deadletter": 0, "reason": None} for a in (0,)
    ] + [
        {"attempt": 0, "source_file": "customers_20261125_v2.csv", "status": "quarantined", "rows_read": 0,
         "rows_loaded": 0, "rows_deadletter": 0, "reason": "bad header"},
        {"attempt": 1, "source_file": "customers_20261125.csv", "status": "loaded", "rows_read": 1,
         "rows_loaded": 1, "rows_deadletter": 0, "reason": None},
        {"attempt": 1, "source_file": "customers_20261125_v2.csv", "status": "quarantined", "rows_read": 0,
         "rows_loaded": 0, "rows_deadletter": 0, "reason": "bad header"},
    ]


def test_emulator_skips_materialized_view_options_so_terraform_keeps_them(bq, settings, contracts):
    """The emulator silently does not create an MV with PARTITION BY/OPTIONS. Local
    provisioning therefore creates plain MVs and Terraform adds the options. If this test fails,
    the emulator learned them and provisioning can create the same MV as BigQuery."""
    view = contracts["transactions"].reporting[0]
    ref = f"{settings.project}.{tables.dataset_names()['reporting']}.options_probe"
    select = sql.reporting_select(settings, contracts["transactions"], view)
    bq.query(
        f"CREATE MATERIALIZED VIEW `{ref}` PARTITION BY transaction_date "
        f"OPTIONS (enable_refresh = true, refresh_interval_minutes = 30) AS {select}"
    ).result()
    with pytest.raises(NotFound):
        bq.get_table(ref)
    plain = bq.get_table(sql.reporting_view_ref(settings, view))
    assert plain.table_type == "MATERIALIZED_VIEW"


def test_identifiers_are_checked_and_values_never_inlined(settings, contracts):
    with pytest.raises(ValueError, match="invalid BigQuery identifier"):
        sql.table_ref(settings, "feedline_raw", "x`; DROP TABLE y; --")
    for template in ("publish_batch.sql", "merge_staging.sql", "record_audit.sql"):
        p = sql.template_params(settings, contracts["transactions"])
        p |= {"target_table": p["raw_table"], "load_output": "valid", "target_columns": p["raw_columns"]}
        text = sql.render(settings, template, params=p, load_tables=sql.load_tables(settings, contracts["transactions"], "b1"))
        assert "@batch_id" in text and "'b1'" not in text


def test_a_dry_run_audit_counts_the_load_tables_and_is_marked(clean, bq, settings, contracts):
    contract = contracts["customers"]
    records = [customer("C1", "a@x.io", "2026-11-25T10:00:00Z", "d1", 2),
               customer("C2", "b@x.io", "2026-11-25T10:00:00Z", "d1", 3)]
    p = load_customers_batch(bq, settings, contract, "d1", records, rejected=("customers_20261125_v2.csv",))
    run(bq, settings, "record_audit.sql", {**p, "dry_run": True}, batch_id="d1", attempt=0, dag_run_id="dry-1",
        ingested_at=INGESTED_AT, dry_run=True)
    assert rows(bq, f"SELECT COUNT(*) AS n FROM `{p['raw_table']}`") == [{"n": 0}]  # nothing published
    audit = rows(bq, f"SELECT source_file, status, rows_read, rows_loaded, dry_run FROM `{p['audit_table']}` "
                     "ORDER BY source_file")
    assert audit == [
        {"source_file": "customers_20261125.csv", "status": "loaded", "rows_read": 2, "rows_loaded": 2, "dry_run": True},
        {"source_file": "customers_20261125_v2.csv", "status": "quarantined", "rows_read": 0, "rows_loaded": 0,
         "dry_run": True},
    ]


def test_batches_have_their_own_load_tables(clean, bq, settings, contracts):
    """Two batches of one feed loaded at once: each publishes exactly its own rows."""
    contract = contracts["customers"]
    one = load_customers_batch(bq, settings, contract, "b1", [customer("C1", "a@x.io", "2026-11-25T10:00:00Z", "b1", 2)])
    two = load_customers_batch(bq, settings, contract, "b2", [customer("C2", "b@x.io", "2026-11-25T10:00:00Z", "b2", 2)])
    assert one["load_tables"]["valid"] != two["load_tables"]["valid"]
    publish_raw(bq, settings, one, "b1")
    publish_raw(bq, settings, two, "b2")
    published = rows(bq, f"SELECT _batch_id, customer_id FROM `{one['raw_table']}` ORDER BY 1")
    assert published == [{"_batch_id": "b1", "customer_id": "C1"}, {"_batch_id": "b2", "customer_id": "C2"}]


def test_deadletter_bytes_load_from_the_jobs_parquet_and_come_back_exactly(clean, bq, gcs, settings, contracts):
    """The emulator loads the Beam job's ``raw_bytes`` (Parquet BYTE_ARRAY) into the BYTES column
    as the DAG's load job does (Parquet, the load schema from tables.json), the publish MERGE
    copies them, and a query returns the very bytes: non-UTF-8, NUL, CR/LF, backslash-x text."""
    import base64
    import io

    import pyarrow.parquet as pq

    from feedline.validate.outputs import Chunk, Stamp
    from feedline.validate.reference import row_outputs

    contract = contracts["customers"]
    batch, source = "b_bytes", "customers_20261125.csv"
    header = b"customer_id,email,full_name,country,signup_date,updated_at\n"
    bad = [
        b"C1,not-an-email,Ren\xe9e,DE,2026-01-01,2026-11-25T10:00:00Z\n",  # latin-1 é
        b"C2,not-an-email,Ren\\xe9e,DE,2026-01-01,2026-11-25T10:00:00Z\r\n",  # the text \xe9
        b'C3,not-an-email,"two\r\nlines\x00",DE,2026-01-01,2026-11-25T10:00:00Z\r',  # quoted CRLF, NUL
        b"C4,\xff\xfe\xed\xa0\x80,,DE,2026-01-01,2026-11-25T10:00:00Z",  # invalid sequences, no line end
    ]
    outputs = list(row_outputs(contract, io.BytesIO(header + b"".join(bad)), Stamp(batch, INGESTED_AT, source)))
    (chunk,) = [c for c in outputs if isinstance(c, Chunk)]
    assert chunk.output == "deadletter" and chunk.count == len(bad)
    buffer = io.BytesIO()
    pq.write_table(chunk.table, buffer, compression="zstd")
    gcs.bucket(settings.work_bucket).blob(f"test/{batch}/deadletter/part-0.parquet").upload_from_string(buffer.getvalue())

    p = create_load_tables(bq, settings, contract, batch)
    insert(bq, p["load_tables"]["summary"], [{"source_file": source, "feed": "customers", "rows_read": len(bad),
                                             "rows_valid": 0, "rows_deadletter": len(bad), "file_error": None}])
    schema = [bigquery.SchemaField.from_api_repr(f) for f in tables.load_output_schema(contract, "deadletter")]
    bq.load_table_from_uri(
        f"gs://{settings.work_bucket}/test/{batch}/deadletter/*", p["load_tables"]["deadletter"],
        job_config=bigquery.LoadJobConfig(source_format=tables.LOAD_FORMATS["deadletter"], schema=schema,
                                          write_disposition="WRITE_TRUNCATE", max_bad_records=0),
    ).result()
    loaded = rows(bq, f"SELECT raw_bytes FROM `{p['load_tables']['deadletter']}` ORDER BY _line_number")
    assert [r["raw_bytes"] for r in loaded] == bad

    run(bq, settings, "publish_batch.sql",
        {**p, "target_table": p["deadletter_table"], "load_output": "deadletter",
         "target_columns": p["deadletter_columns"]},
        batch_id=batch, ingested_at=INGESTED_AT)
    published = rows(bq, f"SELECT _line_number, raw_bytes, raw_line, TO_BASE64(raw_bytes) AS b64, "
                         f"BYTE_LENGTH(raw_bytes) AS n FROM `{p['deadletter_table']}` ORDER BY _line_number")
    assert [r["_line_number"] for r in published] == [2, 3, 4, 6]  # C3's quoted CRLF is line 4 and 5
    assert [r["raw_bytes"] for r in published] == bad
    assert [r["b64"] for r in published] == [base64.b64encode(b).decode() for b in bad]
    assert [r["n"] for r in published] == [len(b) for b in bad]
    assert published[0]["raw_line"] == published[1]["raw_line"].replace("\r\n", "\n").replace("C2", "C1")
    assert b"".join(r["raw_bytes"] for r in published) == b"".join(bad)


def test_provisioning_adds_new_nullable_columns_to_a_table_of_an_older_version(bq, settings, contracts):
    """A stack provisioned before a column was added (deadletter.raw_bytes) keeps its rows and
    gains the column; a new REQUIRED column is refused with what to do."""
    import dataclasses

    from feedline.local.provision import add_missing_columns, bigquery_table

    spec = dataclasses.replace(tables.table_specs(contracts["customers"])["deadletter"],
                               dataset=tables.dataset_names()["ops"], name="provision_probe")
    old = dataclasses.replace(spec, fields=tuple(f for f in spec.fields if f["name"] != "raw_bytes"))
    table_id = f"{settings.project}.{spec.table_id}"
    bq.delete_table(table_id, not_found_ok=True)
    bq.create_table(bigquery_table(settings.project, old))
    try:
        bq.query(f"INSERT INTO `{table_id}` (_batch_id, _source_file, _line_number, _ingested_at, raw_line, reason) "
                 "VALUES ('b1', 'f.csv', 2, TIMESTAMP '2026-11-25 00:00:00', 'x,y', 'bad')").result()

        assert add_missing_columns(bq, settings, spec) == [f"{spec.table_id}.raw_bytes"]
        assert add_missing_columns(bq, settings, spec) == []  # once
        assert {f.name for f in bq.get_table(table_id).schema} == set(spec.field_names())
        assert rows(bq, f"SELECT _batch_id, raw_line, raw_bytes FROM `{table_id}`") == [
            {"_batch_id": "b1", "raw_line": "x,y", "raw_bytes": None}
        ]
        required = dataclasses.replace(spec, fields=(*spec.fields, {"name": "must", "type": "STRING", "mode": "REQUIRED"}))
        with pytest.raises(RuntimeError, match="REQUIRED column must.*feedline local wipe"):
            add_missing_columns(bq, settings, required)
    finally:
        bq.delete_table(table_id, not_found_ok=True)


def test_feedline_audit_reconciles_the_tables_and_names_each_mismatch_with_its_counts(
    clean, bq, settings, contracts, capsys
):
    from feedline import cli

    contract = contracts["customers"]
    records = [customer("C1", "a@x.io", "2026-11-25T10:00:00Z", "b1", 2),
               customer("C2", "b@x.io", "2026-11-25T10:00:00Z", "b1", 3)]
    p = load_customers_batch(bq, settings, contract, "b1", records, rejected=("customers_20261125_v2.csv",))
    publish_raw(bq, settings, p, "b1")
    run(bq, settings, "record_audit.sql", p, batch_id="b1", attempt=0, dag_run_id="run-1",
        ingested_at=INGESTED_AT, dry_run=False)
    staged = {k: v for k, v in records[0].items() if k not in ("_batch_id", "_line_number", "_ingested_at")}
    insert(bq, p["staging_table"], [staged])

    assert cli.main(["audit", "--feed", "customers"]) == 0
    assert "customers: 1 batch(es), 2 file(s) checked, 0 problem(s)" in capsys.readouterr().out

    # a raw row gone behind the audit's back, and a key twice in staging
    bq.query(f"DELETE FROM `{p['raw_table']}` WHERE customer_id = 'C2'").result()
    insert(bq, p["staging_table"], [staged])
    assert cli.main(["audit", "--feed", "customers", "--batch", "b1"]) == 1
    out = capsys.readouterr().out
    assert ("batch b1 file 'customers_20261125.csv': audit says read 2 = loaded 2 + deadletter 0; "
            "the tables hold 1 raw + 0 deadletter") in out, out
    assert "staging holds 2 rows for key customer_id='C1'" in out, out
    assert "2 problem(s)" in out
    assert cli.main(["audit", "--feed", "customers", "--batch", "no-such-batch"]) == 1  # staging still wrong
