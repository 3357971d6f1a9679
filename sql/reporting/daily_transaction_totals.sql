-- Daily totals per currency over the current state of transactions.
-- Placeholders {{ project }}, {{ staging_dataset }} and {{ staging_table }} (the feed's staging table of
-- its contract's table version) are filled by feedline.orchestrate.sql (local) and
-- by Terraform's replace() (cloud); values never enter this text.
SELECT
  DATE(transaction_ts) AS transaction_date,
  currency,
  COUNT(*) AS transaction_count,
  SUM(amount) AS total_amount
FROM `{{ project }}.{{ staging_dataset }}.{{ staging_table }}`
GROUP BY transaction_date, currency
