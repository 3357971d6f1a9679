-- Files of the feed already ingested with one of these contents: for each checksum, the batch
-- that first ingested it and the file's name there. Ingested = an audit row 'loaded' (not a dry
-- run) whose checksum was set, which happens when its batch settled its files (a batch that
-- failed before that never counts). The claiming batch is left out, so a re-run or Clear of it
-- does not find its own files.
-- checksums (ARRAY<STRING>) and batch_id are query parameters, each used once: the emulator
-- turns every appearance, comments included, into a parameter of its own.
WITH ingested AS (
  SELECT checksum, batch_id, source_file,
    ROW_NUMBER() OVER (PARTITION BY checksum ORDER BY recorded_at, batch_id, source_file) AS nth
  FROM `{{ params.audit_table }}`
  WHERE checksum IN UNNEST(@checksums)
    AND status = 'loaded'
    AND dry_run IS NOT TRUE
    AND batch_id != @batch_id
)

SELECT checksum, batch_id, source_file
FROM ingested
WHERE nth = 1
