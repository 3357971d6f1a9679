-- One audit row for a claimed file whose content an earlier batch ingested: it is archived
-- without a Beam job, so its row counts are NULL; duplicate_of names that batch and reason says
-- which of its files. Keyed like record_audit.sql: a retry rewrites it, a re-run adds a row for
-- its attempt.
-- batch_id, attempt, dag_run_id, source_file, checksum, duplicate_of, reason and dry_run are
-- query parameters.
MERGE `{{ params.audit_table }}` AS target
USING (
  SELECT
    @batch_id AS batch_id,
    @attempt AS attempt,
    @dag_run_id AS dag_run_id,
    @source_file AS source_file,
    @checksum AS checksum,
    @duplicate_of AS duplicate_of,
    @reason AS reason,
    @dry_run AS dry_run,
    CURRENT_TIMESTAMP() AS recorded_at
) AS source
ON target.batch_id = source.batch_id
  AND target.attempt = source.attempt
  AND target.source_file = source.source_file
WHEN MATCHED THEN
  UPDATE SET status = 'duplicate', checksum = source.checksum, duplicate_of = source.duplicate_of,
    reason = source.reason, dry_run = source.dry_run, recorded_at = source.recorded_at
WHEN NOT MATCHED THEN
  INSERT (batch_id, attempt, dag_run_id, source_file, status, checksum, duplicate_of, reason, dry_run, recorded_at)
  VALUES (source.batch_id, source.attempt, source.dag_run_id, source.source_file, 'duplicate',
          source.checksum, source.duplicate_of, source.reason, source.dry_run, source.recorded_at);
