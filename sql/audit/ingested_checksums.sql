-- Files of the feed already ingested with one of these contents: for each checksum, the batch
-- that first ingested it, the file's name there, and what became of it. Ingested = an audit row
-- 'loaded' or 'quarantined' (not a dry run) whose checksum was set, which happens when its batch
-- settled its files (a batch that failed before that never counts); a loaded one wins over a
-- quarantined one (the bytes loaded once, say after a contract change). The claiming batch is
-- left out, so a re-run or Clear of it does not find its own files.
-- checksums (ARRAY<STRING>) and batch_id are query parameters, each used once: the emulator
-- turns every appearance, comments included, into a parameter of its own.
WITH ingested AS (
  SELECT checksum, batch_id, source_file, status, reason,
    ROW_NUMBER() OVER (
      PARTITION BY checksum ORDER BY IF(status = 'loaded', 0, 1), recorded_at, batch_id, source_file
    ) AS nth
  FROM `{{ params.audit_table }}`
  WHERE checksum IN UNNEST(@checksums)
    AND status IN ('loaded', 'quarantined')
    AND dry_run IS NOT TRUE
    AND batch_id != @batch_id
)

SELECT checksum, batch_id, source_file, status, reason
FROM ingested
WHERE nth = 1
