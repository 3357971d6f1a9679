"""Names derived from a feed: the DAG id here (batch and object names are tested with claims)."""

from __future__ import annotations

from feedline.contract import naming


def test_the_dag_id_of_a_feed():
    assert naming.dag_id("transactions") == "feedline_transactions"
    assert naming.dag_id("customers") == "feedline_customers"

