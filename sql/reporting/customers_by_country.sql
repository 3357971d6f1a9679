-- Number of current customers per country (NULL = country not given).
-- Placeholders {{ project }}, {{ staging_dataset }} and {{ staging_table }} (the feed's staging table of
-- its contract's table version) are filled by feedline.orchestrate.sql (local) and
-- by Terraform's replace() (cloud); values never enter this text.
SELECT
  country,
  COUNT(*) AS customer_count
FROM `{{ project }}.{{ staging_dataset }}.{{ staging_table }}`
GROUP BY country
