-- The partition days the batch's valid rows fall in (from the Beam job's summary of the
-- accepted files; the batch's own load table): what merge_staging may touch.
SELECT MIN(partition_min) AS partition_min, MAX(partition_max) AS partition_max
FROM `{{ load_tables.summary }}`
WHERE file_error IS NULL
