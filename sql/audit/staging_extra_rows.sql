-- Staging rows beyond one per key (0 when the MERGE kept exactly one row per key).
SELECT IFNULL(SUM(copies - 1), 0) AS extra_rows
FROM (
  SELECT COUNT(*) AS copies
  FROM `{{ params.staging_table }}`
  GROUP BY {{ params.key | join(', ') }}
  HAVING COUNT(*) > 1
)
