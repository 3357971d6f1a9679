-- Daily totals per currency over the current state of transactions.
-- Placeholders {{ project }} and {{ staging_dataset }} are filled by feedline.orchestrate.sql (local) and
-- by Terraform's replace() (cloud); values never enter this text.
SELECT
  DATE(transaction_ts) AS transaction_date,
  currency,
  COUNT(*) AS transaction_count,
  SUM(amount) AS total_amount
FROM `{{ project }}.{{ staging_dataset }}.transactions`
GROUP BY transaction_date, currency
