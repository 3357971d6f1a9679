"""A file's header against its contract: which columns are read where, and what the contract's
``schema_drift`` policy does with columns the contract does not know or the file lacks.

Pure; imports contract only. Both engines (the row reference and the columnar path) and
``feedline validate`` call :func:`plan_header` and validate against the plan's ``contract``:
the feed's contract with the file's missing columns left out (the load then gives them NULL)
and its evolved columns added as STRING columns, so neither engine needs a case of its own.

Decisions (each has a test in tests/unit/validate/test_header.py):
- Columns are matched by name (trimmed), in any order; a duplicated name always rejects the file.
- A missing required column always rejects the file.
- With the default policies (quarantine) the reason is the one files always got:
  ``header does not match the <feed> contract: missing a; unexpected b``.
- ``ignore`` and ``evolve`` still reject, with the reason, an extra column whose name differs
  from a contract column only in case (BigQuery's names are case-insensitive, and such a
  column is more likely a renamed one than a new one) and a column without a name.
- ``evolve`` adds a column only under a name a contract column could have (lower_snake_case,
  a letter first, at most 63 characters): it becomes a BigQuery column, and no such name can
  be one of the tables' own ``_``-prefixed columns.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from feedline.contract.model import IDENTIFIER, Column, Contract
from feedline.validate.csvio import FileRejected

# Evolved columns carry the file's text (trimmed, empty = NULL): the contract does not type them.
EVOLVED_TYPE = "STRING"


@dataclass(frozen=True)
class HeaderPlan:
    """How one file is read: ``contract`` is what its rows are validated against, ``positions``
    the header position of each of that contract's columns."""

    contract: Contract
    positions: tuple[int, ...]
    added: tuple[str, ...] = ()  # extra columns loaded into raw and staging (evolve)
    ignored: tuple[str, ...] = ()  # extra columns left out of every table (ignore)
    nulled: tuple[str, ...] = ()  # contract columns the file lacks, loaded as NULL (null)

    @property
    def drifted(self) -> bool:
        return bool(self.added or self.ignored or self.nulled)


def _extra_problems(contract: Contract, names: list[str], extras: list[str]) -> list[str]:
    """Why extra columns cannot be ignored or added, one text per column (empty: they can)."""
    known = {c.lower(): c for c in contract.column_names}
    problems = []
    for name in extras:
        if name == "":
            problems.append(f"column {names.index(name) + 1} of the header has no name")
        elif name.lower() in known:
            problems.append(f"column {name!r} differs from the contract's {known[name.lower()]!r} only in case")
        elif contract.schema_drift.extra_columns == "evolve" and not IDENTIFIER.fullmatch(name):
            problems.append(
                f"column {name!r} cannot be added: a new column's name must be lower_snake_case "
                "(a letter first, at most 63 characters)"
            )
    return problems


def plan_header(contract: Contract, header: list[str]) -> HeaderPlan:
    """The plan for a file with this header; FileRejected (the quarantine reason) if the
    contract's policy does not accept the difference."""
    names = [h.strip() for h in header]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise FileRejected(f"header has duplicate column names: {', '.join(duplicates)}")
    policy = contract.schema_drift
    missing = [c for c in contract.columns if c.name not in names]
    extras = [n for n in names if n not in contract.column_names]
    parts = []
    if missing and policy.missing_columns == "quarantine":
        parts.append(f"missing {', '.join(c.name for c in missing)}")
    elif any(c.required for c in missing):
        parts.append(f"missing required {', '.join(c.name for c in missing if c.required)}")
    if extras and policy.extra_columns == "quarantine":
        parts.append(f"unexpected {', '.join(extras)}")
    elif extras:
        parts += _extra_problems(contract, names, extras)
    if parts:
        raise FileRejected(f"header does not match the {contract.feed} contract: {'; '.join(parts)}")
    added = tuple(extras) if policy.extra_columns == "evolve" else ()
    present = tuple(c for c in contract.columns if c.name in names)
    columns = present + tuple(Column(name, EVOLVED_TYPE) for name in added)
    return HeaderPlan(
        contract=dataclasses.replace(contract, columns=columns) if columns != contract.columns else contract,
        positions=tuple(names.index(c.name) for c in columns),
        added=added,
        ignored=tuple(extras) if policy.extra_columns == "ignore" else (),
        nulled=tuple(c.name for c in missing),
    )
