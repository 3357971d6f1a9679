"""The whole product on one machine: GCS and BigQuery emulators, a Slack webhook receiver, the
real Airflow components, provisioning from the contracts, the demo and its report, sample data.

May import every other part of Feedline. Never shipped: the Composer bundle and the flex template
image leave it out.
"""
