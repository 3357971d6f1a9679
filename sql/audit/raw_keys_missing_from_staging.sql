-- Raw rows of the files whose name contains the name_part parameter whose key staging does not
-- hold: rows a batch published that its staging MERGE lost (0 once each batch reached staging).
-- The parameter appears once: the emulator counts every appearance, comments too.
SELECT COUNT(*) AS missing
FROM `{{ params.raw_table }}` AS r
LEFT JOIN `{{ params.staging_table }}` AS s
  ON {% for k in params.key %}{{ 'AND ' if not loop.first }}s.{{ k }} = r.{{ k }} {% endfor %}
WHERE STRPOS(r._source_file, @name_part) > 0
  AND s.{{ params.key[0] }} IS NULL
