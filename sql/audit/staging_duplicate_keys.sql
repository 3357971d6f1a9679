-- Keys that staging holds more than once (the MERGE keeps exactly one row per key).
SELECT {{ params.key | join(', ') }}, COUNT(*) AS copies
FROM `{{ params.staging_table }}`
GROUP BY {{ params.key | join(', ') }}
HAVING COUNT(*) > 1
ORDER BY copies DESC
LIMIT 20
