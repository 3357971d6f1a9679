-- One audit row per file of this batch attempt: rows read (Beam), rows loaded and rows
-- deadlettered (counted in the warehouse), status and the quarantine reason, and what the
-- contract's schema_drift did with the file's header (columns added, ignored, loaded as NULL).
-- Keyed by (batch_id, attempt, source_file): a retried task rewrites its own rows, a re-run
-- (cleared) batch adds rows for its new attempt, so the audit shows both.
-- A dry run (params.dry_run) published nothing: it counts the rows it would have published,
-- in the batch's own load tables, and marks its rows dry_run.
-- batch_id, attempt, dag_run_id, ingested_at and dry_run are query parameters.
{%- set dry = params.get('dry_run') %}
MERGE `{{ params.audit_table }}` AS target
USING (
  WITH summary AS (
    SELECT source_file, rows_read, file_error, columns_added, columns_ignored, columns_nulled
    FROM `{{ load_tables.summary }}`
  ),

  loaded AS (
    SELECT _source_file AS source_file, COUNT(*) AS row_count
{%- if dry %}
    FROM `{{ load_tables.valid }}`
    WHERE _batch_id = @batch_id
      AND _source_file IN (SELECT source_file FROM summary WHERE file_error IS NULL)
{%- else %}
    FROM `{{ params.raw_table }}`
    WHERE DATE(_ingested_at) = DATE(@ingested_at) AND _batch_id = @batch_id
{%- endif %}
    GROUP BY _source_file
  ),

  deadlettered AS (
    SELECT _source_file AS source_file, COUNT(*) AS row_count
{%- if dry %}
    FROM `{{ load_tables.deadletter }}`
    WHERE _batch_id = @batch_id
      AND _source_file IN (SELECT source_file FROM summary WHERE file_error IS NULL)
{%- else %}
    FROM `{{ params.deadletter_table }}`
    WHERE DATE(_ingested_at) = DATE(@ingested_at) AND _batch_id = @batch_id
{%- endif %}
    GROUP BY _source_file
  ),

  final AS (
    SELECT
      @batch_id AS batch_id,
      @attempt AS attempt,
      @dag_run_id AS dag_run_id,
      summary.source_file,
      IF(summary.file_error IS NULL, 'loaded', 'quarantined') AS status,
      summary.rows_read,
      COALESCE(loaded.row_count, 0) AS rows_loaded,
      COALESCE(deadlettered.row_count, 0) AS rows_deadletter,
      IF(summary.rows_read = 0, 0.0, COALESCE(deadlettered.row_count, 0) / summary.rows_read) AS deadletter_share,
      summary.file_error AS reason,
      summary.columns_added,
      summary.columns_ignored,
      summary.columns_nulled,
      @dry_run AS dry_run,
      CURRENT_TIMESTAMP() AS recorded_at
    FROM summary
    LEFT JOIN loaded USING (source_file)
    LEFT JOIN deadlettered USING (source_file)
  )

  SELECT * FROM final
) AS source
ON target.batch_id = source.batch_id
  AND target.attempt = source.attempt
  AND target.source_file = source.source_file
WHEN MATCHED THEN
  UPDATE SET
    status = source.status,
    rows_read = source.rows_read,
    rows_loaded = source.rows_loaded,
    rows_deadletter = source.rows_deadletter,
    deadletter_share = source.deadletter_share,
    reason = source.reason,
    columns_added = source.columns_added,
    columns_ignored = source.columns_ignored,
    columns_nulled = source.columns_nulled,
    dry_run = source.dry_run,
    recorded_at = source.recorded_at
WHEN NOT MATCHED THEN
  INSERT (batch_id, attempt, dag_run_id, source_file, status, rows_read, rows_loaded,
          rows_deadletter, deadletter_share, reason, columns_added, columns_ignored, columns_nulled,
          dry_run, recorded_at)
  VALUES (source.batch_id, source.attempt, source.dag_run_id, source.source_file, source.status,
          source.rows_read, source.rows_loaded, source.rows_deadletter, source.deadletter_share,
          source.reason, source.columns_added, source.columns_ignored, source.columns_nulled,
          source.dry_run, source.recorded_at);
