-- Number of current customers per country (NULL = country not given).
-- Placeholders {{ project }} and {{ staging_dataset }} are filled by feedline.orchestrate.sql (local) and
-- by Terraform's replace() (cloud); values never enter this text.
SELECT
  country,
  COUNT(*) AS customer_count
FROM `{{ project }}.{{ staging_dataset }}.customers`
GROUP BY country
