-- Publish one batch's rows from its load table into a history table (raw or deadletter).
-- Idempotent: rows this batch already published are kept, rows it published before but no
-- longer has (a file since quarantined) are removed, nothing outside the batch is touched.
-- Only files the Beam job accepted (no file_error in the batch summary) are published.
-- Jinja fills identifiers only (load_tables: the batch's own load tables, sql.load_tables,
-- whose columns are the target's, typed as the target's: the Beam job writes Parquet);
-- extra_columns: the evolved columns (schema_drift evolve) raw carries besides the contract's,
-- bound by the DAG for publish_raw only (sql.with_load_tables); none when not bound;
-- loaded_columns: those the load table holds (its files have them); the others are NULL.
-- batch_id and ingested_at are query parameters.
{%- set extra = extra_columns if extra_columns is defined else [] %}
{%- set loaded = loaded_columns if loaded_columns is defined else extra %}
{%- set target_columns = params.target_columns + extra %}
MERGE `{{ params.target_table }}` AS target
USING (
  SELECT {{ params.target_columns | join(', ') }}
    {%- for c in extra %}, {{ c if c in loaded else 'CAST(NULL AS STRING) AS ' ~ c }}{% endfor %}
  FROM `{{ load_tables[params.load_output] }}`
  WHERE _batch_id = @batch_id
    AND _source_file IN (
      SELECT source_file FROM `{{ load_tables.summary }}` WHERE file_error IS NULL
    )
) AS source
ON DATE(target._ingested_at) = DATE(@ingested_at)
  AND target._batch_id = source._batch_id
  AND target._source_file = source._source_file
  AND target._line_number = source._line_number
WHEN NOT MATCHED THEN
  INSERT ({{ target_columns | join(', ') }})
  VALUES ({% for c in target_columns %}source.{{ c }}{% if not loop.last %}, {% endif %}{% endfor %})
WHEN NOT MATCHED BY SOURCE
  AND DATE(target._ingested_at) = DATE(@ingested_at)
  AND target._batch_id = @batch_id THEN
  DELETE;
