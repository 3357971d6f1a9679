"""Validating feed files against their contracts: reading CSV, checking rows, writing outputs.

- ``csvio``: the file as CSV records (raw text, first line number); gzip and BOM handled.
- ``header``: the file's header against the contract and its ``schema_drift`` policy.
- ``rules``: one record checked against the contract (the typed row or the first RowError),
  and the per-file :class:`~feedline.validate.rules.FileSummary`.
- ``outputs``: the valid, deadletter and summary lines (JSON) and the chunks they travel in.
- ``reference``: the row-by-row engine (csvio + rules + outputs), what both engines must produce.
- ``columnar``: the fast engine (numpy + Arrow), byte for byte the reference's outputs.

Used by the Beam job and ``feedline validate``. Imports :mod:`feedline.contract` only; never
Airflow or Beam (an import-linter contract in pyproject.toml checks this).
"""
