-- The columns a batch's accepted files add to raw and staging (schema_drift: evolve), one JSON
-- array of names per file, as the Beam job's summary names them. No values, no parameters.
SELECT columns_added
FROM `{{ load_tables.summary }}`
WHERE file_error IS NULL AND columns_added IS NOT NULL
