"""Small helpers shared by tests."""

from __future__ import annotations

from pathlib import Path


def rows(bq, statement: str, **params) -> list[dict]:
    """Run a query with scalar parameters (types inferred from Python values)."""
    from google.cloud import bigquery

    types = {str: "STRING", int: "INT64", float: "FLOAT64", bool: "BOOL"}
    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter(k, types[type(v)], v) for k, v in params.items()]
    )
    return [dict(r) for r in bq.query(statement, job_config=config).result()]


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path
