"""Airflow DAGs for Feedline: one ingestion DAG per feed contract (contracts/*.yaml).

The DAGs are built by feedline.orchestrate.dag_factory (plugins/); adding a feed means adding a contract.
"""

from feedline.orchestrate.dag_factory import build_all

globals().update(build_all())
