-- The columns a batch's files add (schema_drift: evolve), one JSON array of names per file, as
-- the Beam job's summary names them; accepted: the file is published (its columns reach raw and
-- staging). Every file's columns are in the job's valid output. No values, no parameters.
SELECT columns_added, file_error IS NULL AS accepted
FROM `{{ load_tables.summary }}`
WHERE columns_added IS NOT NULL
