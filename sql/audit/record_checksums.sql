-- A settled batch attempt: each file's content checksum onto its audit row, which from now on
-- makes a repeated drop of the same bytes a duplicate (audit/ingested_checksums.sql). Written
-- at settling, not at claiming, so a batch that failed before it never counts as ingested.
-- Setting the same values again changes nothing: a retry is safe.
-- batch_id, attempt and files (ARRAY<STRUCT<source_file STRING, checksum STRING>>) are query
-- parameters.
UPDATE `{{ params.audit_table }}` AS target
SET checksum = claimed.checksum
FROM UNNEST(@files) AS claimed
WHERE target.batch_id = @batch_id
  AND target.attempt = @attempt
  AND target.source_file = claimed.source_file
