"""The Composer side: one ingestion DAG per feed contract, and what its tasks need.

dag_factory.py builds the DAGs (operators and wiring), tasks.py holds the Python tasks,
audit.py reads a batch's audit back and says what it means, launch.py renders the Beam job's
launch, sql.py the SQL identifiers and templates, alerts.py the Slack texts, backfill.py which
backfill run re-ingests a day, events.py the log entries the alerts read (events.json),
dataflow.py the retry-safe Dataflow launch, secrets_backend.py Composer's secrets backend
(Secret Manager for the alert connections only).

May import feedline.contract, feedline.storage, feedline.settings and Airflow; never
apache_beam or feedline.validate (the DAG processor must not load them).
"""
