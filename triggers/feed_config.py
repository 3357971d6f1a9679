"""The trigger function's feed map, derived from the contracts (never typed by hand).

The Cloud Run function in ``triggers/`` is deployed without the contracts (its zip holds
``triggers/`` only), so it reads the map from the ``FEEDLINE_FEEDS`` environment variable:
``{"<feed>": {"dag_id": "feedline_<feed>", "file_pattern": "<the contract's regex>"}}``.

Terraform computes the same value in HCL (``module.feed_tables.feeds`` -> ``jsonencode`` in
terraform/modules/platform); ``tests/triggers/test_trigger_config.py`` evaluates that expression
with terraform and checks that both agree. Locally, ``python triggers/feed_config.py`` prints
the JSON (what the tests and a hand-started function use).

Imports neither Airflow nor Beam.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from feedline.contract import naming
from feedline.contract.model import Contract, load_contracts

FEEDS_ENV = "FEEDLINE_FEEDS"


dag_id_for = naming.dag_id  # the DAG id dag_factory.build_dag gives the feed's DAG


def feeds_config(contracts: dict[str, Contract] | None = None, directory: Path | str | None = None) -> dict:
    """feed -> {dag_id, file_pattern}, for every contract (sorted by feed)."""
    if contracts is None:
        contracts = load_contracts(directory) if directory else load_contracts()
    return {
        feed: {"dag_id": dag_id_for(feed), "file_pattern": contract.file_pattern}
        for feed, contract in sorted(contracts.items())
    }


def feeds_json(contracts: dict[str, Contract] | None = None, directory: Path | str | None = None) -> str:
    """The value of FEEDLINE_FEEDS (compact JSON)."""
    return json.dumps(feeds_config(contracts, directory), separators=(",", ":"), sort_keys=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    directory = argv[0] if argv else None
    print(feeds_json(directory=directory))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
