-- The audit rows of one batch attempt (record_audit.sql wrote them), one per file.
-- batch_id and attempt are query parameters.
SELECT source_file, status, rows_read, rows_loaded, rows_deadletter, reason,
  columns_added, columns_ignored, columns_nulled
FROM `{{ params.audit_table }}`
WHERE batch_id = @batch_id AND attempt = @attempt
