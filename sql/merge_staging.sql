-- Upsert one batch from raw into staging: one row per key, the latest version wins.
-- Re-running it changes nothing: an identical row is never rewritten.
-- Jinja fills identifiers only; batch_id, ingested_at and, for partitioned feeds, the
-- batch's partition range (partition_min, partition_max: constants, so BigQuery prunes the
-- staging partitions the batch did not hit) are query parameters.
-- extra_columns: the evolved columns (schema_drift evolve) staging carries besides the
-- contract's, bound by the DAG (sql.with_load_tables); none when not bound.
{%- set p = params %}
{%- set columns = p.columns + (extra_columns if extra_columns is defined else []) %}
MERGE `{{ p.staging_table }}` AS target
USING (
  WITH batch AS (
    SELECT *
    FROM `{{ p.raw_table }}`
    WHERE DATE(_ingested_at) = DATE(@ingested_at) AND _batch_id = @batch_id
  ),

  deduped AS (
    SELECT *
    FROM batch
    QUALIFY ROW_NUMBER() OVER (
      PARTITION BY {{ p.key | join(', ') }}
      ORDER BY {% if p.latest_by %}{{ p.latest_by }} DESC, {% endif %}_source_file DESC, _line_number DESC
    ) = 1
  )

  SELECT {{ columns | join(', ') }}, _source_file
  FROM deduped
) AS source
ON {% for k in p.key %}target.{{ k }} = source.{{ k }}{% if not loop.last %} AND {% endif %}{% endfor %}
{%- if p.partition_day %}
  AND {{ p.partition_day | replace(p.partition_column, 'target.' ~ p.partition_column) }} BETWEEN @partition_min AND @partition_max
{%- endif %}
{%- if p.latest_by %}
WHEN MATCHED AND source.{{ p.latest_by }} > target.{{ p.latest_by }} THEN
{%- else %}
WHEN MATCHED AND NOT (
  {%- for c in columns %}
  target.{{ c }} IS NOT DISTINCT FROM source.{{ c }}{% if not loop.last %} AND{% endif %}
  {%- endfor %}
) THEN
{%- endif %}
  UPDATE SET
  {%- for c in columns + ['_source_file'] %}
    {{ c }} = source.{{ c }}{% if not loop.last %},{% endif %}
  {%- endfor %}
WHEN NOT MATCHED THEN
  INSERT ({{ (columns + ['_source_file']) | join(', ') }})
  VALUES ({% for c in columns + ['_source_file'] %}source.{{ c }}{% if not loop.last %}, {% endif %}{% endfor %});
