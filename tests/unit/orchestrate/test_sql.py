"""The batch's load tables: one validated function for the load operators and the templates."""

from __future__ import annotations

import pytest

from feedline.contract import naming
from feedline.contract.model import load_contracts
from feedline.orchestrate import sql
from feedline.settings import from_env

SETTINGS = from_env({})
CU = load_contracts()["customers"]


def test_load_tables_are_per_batch_and_output():
    assert sql.load_table_ref(SETTINGS, CU, "valid", "b_1") == "feedline-local.feedline_load.customers_b_1_valid"
    assert sql.load_tables(SETTINGS, CU, "b_1")["summary"].endswith(".customers_b_1_summary")
    run_id = "manual__2026-11-20T00:00:00+00:00"
    batch = naming.batch_id_for_run("customers", run_id)
    assert sql.load_tables_for_run(SETTINGS, CU, run_id) == sql.load_tables(SETTINGS, CU, batch)


@pytest.mark.parametrize("batch_id", ["b-1", "B1", "x`; DROP TABLE y; --", "١٢", "", None])
def test_a_batch_id_that_is_no_identifier_part_is_refused(batch_id):
    with pytest.raises(ValueError, match="invalid batch id"):
        sql.load_table_ref(SETTINGS, CU, "valid", batch_id)


def test_an_unknown_output_is_refused():
    with pytest.raises(ValueError, match="not a Beam output"):
        sql.load_table_ref(SETTINGS, CU, "other", "b_1")
