-- Reconciliation, per batch and file: the audit's latest attempt (not a dry run) beside what raw
-- and deadletter really hold for that batch and file. A row on either side only is a mismatch
-- too (rows with no audit, or an audited file with no rows where it says there are some).
-- The batch_id parameter: one batch, or NULL for every batch the audit knows. It appears once:
-- the emulator turns each appearance, comments included, into a parameter of its own.
WITH audited AS (
  SELECT batch_id, source_file, status, reason, rows_read, rows_loaded, rows_deadletter
  FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY batch_id, source_file ORDER BY attempt DESC, recorded_at DESC) AS latest
    FROM `{{ params.audit_table }}`
    WHERE dry_run IS NOT TRUE
  )
  WHERE latest = 1
),
raw_rows AS (
  SELECT _batch_id AS batch_id, _source_file AS source_file, COUNT(*) AS n
  FROM `{{ params.raw_table }}` GROUP BY 1, 2
),
deadletter_rows AS (
  SELECT _batch_id AS batch_id, _source_file AS source_file, COUNT(*) AS n
  FROM `{{ params.deadletter_table }}` GROUP BY 1, 2
),
files AS (
  SELECT batch_id, source_file FROM audited
  UNION DISTINCT SELECT batch_id, source_file FROM raw_rows
  UNION DISTINCT SELECT batch_id, source_file FROM deadletter_rows
)
SELECT
  f.batch_id, f.source_file, a.status, a.reason, a.rows_read, a.rows_loaded, a.rows_deadletter,
  IFNULL(r.n, 0) AS raw_rows, IFNULL(d.n, 0) AS deadletter_rows
FROM files AS f
LEFT JOIN audited AS a ON a.batch_id = f.batch_id AND a.source_file = f.source_file
LEFT JOIN raw_rows AS r ON r.batch_id = f.batch_id AND r.source_file = f.source_file
LEFT JOIN deadletter_rows AS d ON d.batch_id = f.batch_id AND d.source_file = f.source_file
WHERE f.batch_id = IFNULL(@batch_id, f.batch_id)
ORDER BY f.batch_id, f.source_file
