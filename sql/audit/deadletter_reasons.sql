-- How many of the batch's rows were deadlettered for each reason, most frequent first.
-- The filter on the ingestion day prunes the deadletter table's partitions.
-- batch_id and ingested_at are query parameters.
SELECT reason, COUNT(*) AS n
FROM `{{ params.deadletter_table }}`
WHERE DATE(_ingested_at) = DATE(@ingested_at) AND _batch_id = @batch_id
GROUP BY reason
ORDER BY n DESC, reason
