"""The header plan: what schema_drift does with a file whose header differs from the contract
(feedline.validate.header), and both engines reading by that plan alike."""

from __future__ import annotations

import dataclasses
import json

import pytest

from engines import EVERYTHING, both_paths
from feedline.contract.model import SchemaDrift
from feedline.validate.csvio import FileRejected
from feedline.validate.header import plan_header


def drift(extra: str = "quarantine", missing: str = "quarantine"):
    return dataclasses.replace(EVERYTHING, schema_drift=SchemaDrift(extra, missing))


NAMES = list(EVERYTHING.column_names)  # id (required), name, email, ..., ts (required)


def test_the_default_quarantines_as_files_always_were_with_the_same_reason():
    with pytest.raises(FileRejected) as exc:
        plan_header(EVERYTHING, [n for n in NAMES if n != "qty"] + ["extra"])
    assert exc.value.reason == "header does not match the everything contract: missing qty; unexpected extra"


def test_a_header_in_another_order_is_read_by_name_under_every_policy():
    for contract in (EVERYTHING, drift("evolve", "null")):
        plan = plan_header(contract, list(reversed(NAMES)))
        assert plan.positions == tuple(reversed(range(len(NAMES)))) and not plan.drifted
        assert plan.contract is contract


def test_ignore_leaves_extra_columns_out_and_names_them():
    plan = plan_header(drift("ignore"), ["note", *NAMES, "Source System"])
    assert plan.ignored == ("note", "Source System") and plan.added == () and plan.nulled == ()
    assert plan.contract.column_names == EVERYTHING.column_names
    assert plan.positions == tuple(range(1, len(NAMES) + 1))


def test_evolve_adds_extra_columns_as_strings_after_the_contracts():
    plan = plan_header(drift("evolve"), ["tier", *NAMES])
    assert plan.added == ("tier",) and plan.contract.column_names == (*NAMES, "tier")
    assert plan.contract.columns[-1].type == "STRING" and not plan.contract.columns[-1].required
    assert plan.positions[-1] == 0


def test_null_leaves_missing_optional_columns_out_and_names_them():
    plan = plan_header(drift(missing="null"), [n for n in NAMES if n not in ("qty", "email")])
    assert plan.nulled == ("email", "qty")
    assert plan.contract.column_names == tuple(n for n in NAMES if n not in ("qty", "email"))


@pytest.mark.parametrize(
    ("contract", "header", "reason"),
    [
        (drift(missing="null"), [n for n in NAMES if n not in ("id", "qty")],
         "header does not match the everything contract: missing required id"),
        (drift("ignore", "null"), [*NAMES[1:], "ID"],
         "header does not match the everything contract: missing required id; "
         "column 'ID' differs from the contract's 'id' only in case"),
        (drift("evolve"), [*NAMES, "Qty_2", "bad name", "_batch_id", "x" * 64],
         "header does not match the everything contract: "
         + "; ".join(f"column {n!r} cannot be added: a new column's name must be lower_snake_case "
                     "(a letter first, at most 63 characters)" for n in ("Qty_2", "bad name", "_batch_id", "x" * 64))),
        (drift("ignore"), [*NAMES, ""], "header does not match the everything contract: column 12 of the header has no name"),
        (drift("evolve"), [*NAMES, "tier", "tier"], "header has duplicate column names: tier"),
        (drift("ignore", "null"), [*NAMES[:-1], "qty"], "header has duplicate column names: qty"),
        # one policy lenient, the other not: only what the strict one refuses is the reason
        (drift("ignore"), [*NAMES[:5], *NAMES[6:], "extra"], "header does not match the everything contract: missing amount"),
        (drift(missing="null"), [*NAMES[:5], *NAMES[6:], "extra"], "header does not match the everything contract: unexpected extra"),
    ],
)
def test_what_no_policy_accepts_quarantines_with_the_reason(contract, header, reason):
    with pytest.raises(FileRejected) as exc:
        plan_header(contract, header)
    assert exc.value.reason == reason


def rows_of(header: list[str], rows: list[list[str]]) -> bytes:
    return ("\n".join(",".join(r) for r in [header, *rows]) + "\n").encode()


GOOD = {"id": "A1", "name": " Ann ", "email": "a@b.co", "country": "NL", "code": "ABC", "amount": "1.50",
        "qty": "3", "ratio": "0.5", "active": "true", "day": "2026-11-01", "ts": "2026-11-02T03:04:05Z"}


def file_with(header: list[str], extra: dict[str, str] | None = None, rows: int = 30) -> bytes:
    """Rows of good values; the ``extra`` columns are empty in every 7th row (from row 0)."""
    values = {**GOOD, **(extra or {})}
    body = [["" if i % 7 == 0 and h in (extra or {}) else values.get(h, "x") for h in header] for i in range(rows)]
    body[3][header.index("id") if "id" in header else 0] = ""  # one bad row: id is required
    return rows_of(header, body)


def test_both_engines_read_an_ignored_column_alike_and_load_none_of_it():
    header = ["tier", *reversed(NAMES), "Note"]
    outcome = both_paths(drift("ignore"), file_with(header, {"tier": "gold", "Note": "n"}))
    assert (outcome.summary.columns_ignored, outcome.summary.columns_added) == (["tier", "Note"], None)
    assert outcome.summary.rows_valid == 29 and outcome.summary.rows_deadletter == 1
    assert set(outcome.valid_rows[0]) == {*NAMES, "_batch_id", "_ingested_at", "_line_number", "_source_file"}
    assert outcome.valid_rows[0]["name"] == "Ann"


def test_both_engines_write_a_missing_column_as_null():
    header = [n for n in NAMES if n not in ("qty", "day")]
    outcome = both_paths(drift(missing="null"), file_with(header))
    assert outcome.summary.columns_nulled == ["qty", "day"] and outcome.summary.rows_valid == 29
    assert all(r["qty"] is None and r["day"] is None for r in outcome.valid_rows)


def test_both_engines_carry_an_evolved_column_as_trimmed_text_empty_as_null():
    header = [*NAMES, "tier"]
    outcome = both_paths(drift("evolve"), file_with(header, {"tier": ' "gold" '}))
    assert outcome.summary.columns_added == ["tier"]
    tiers = [r["tier"] for r in outcome.valid_rows]
    assert set(tiers) == {'"gold"', None} and tiers[0] is None and tiers.count(None) == 5


def test_the_summary_line_carries_the_drifted_names_as_json_arrays():
    from feedline.validate.outputs import summary_row

    outcome = both_paths(drift("ignore", "null"), file_with([n for n in NAMES if n != "qty"] + ["tier"]))
    row = summary_row(outcome.summary, "f.csv")
    assert (json.loads(row["columns_ignored"]), json.loads(row["columns_nulled"]), row["columns_added"]) == (
        ["tier"], ["qty"], None)
