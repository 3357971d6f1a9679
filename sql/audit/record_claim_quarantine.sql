-- One audit row for a landing object the claim quarantined (misnamed, a base name shared with
-- another object of the claim, a name too long): it never reached the Beam job, so its row
-- counts are NULL. source_file is its path below the feed's prefix (a/x.csv), so two objects
-- that share a base name get a row each. Keyed like record_audit.sql: a retry rewrites it.
-- batch_id, attempt, dag_run_id, source_file, reason and dry_run are query parameters.
MERGE `{{ params.audit_table }}` AS target
USING (
  SELECT
    @batch_id AS batch_id,
    @attempt AS attempt,
    @dag_run_id AS dag_run_id,
    @source_file AS source_file,
    @reason AS reason,
    @dry_run AS dry_run,
    CURRENT_TIMESTAMP() AS recorded_at
) AS source
ON target.batch_id = source.batch_id
  AND target.attempt = source.attempt
  AND target.source_file = source.source_file
WHEN MATCHED THEN
  UPDATE SET status = 'quarantined', reason = source.reason, dry_run = source.dry_run, recorded_at = source.recorded_at
WHEN NOT MATCHED THEN
  INSERT (batch_id, attempt, dag_run_id, source_file, status, reason, dry_run, recorded_at)
  VALUES (source.batch_id, source.attempt, source.dag_run_id, source.source_file, 'quarantined',
          source.reason, source.dry_run, source.recorded_at);
