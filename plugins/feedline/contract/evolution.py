"""Contract evolution: what a change to a contract does to its feed's tables.

Every difference between two versions of a feed's contract is one :class:`Change` of a kind:

- ``additive``: applied to the existing tables in place, no row lost (a new nullable column,
  a column no longer required, a new allowed value, a new reporting view, a new feed);
- ``breaking``: the tables cannot follow in place (a type change, a removed or renamed column, a
  new required column, a column made required, another key or partitioning, a removed view or
  feed). Refused unless the contract declares a migration: ``version: N+1`` and
  ``migration: {from_version: N, backfill_from: YYYY-MM-DD}``, which gives the feed new tables
  (``<feed>_vN+1``) beside the old ones, filled by a backfill from the archive;
- ``migration``: such a declared move to new tables;
- ``rules``: validation and behaviour only, no table changes (lengths, patterns, removed
  allowed values, threshold, schedule, file pattern, drift policy).

``contracts/schema.lock.json`` records each feed's contract as main last accepted it (written by
``feedline contracts lock``); ``feedline contracts check`` (part of ``make test``) compares the
contracts with it. Pure functions: no I/O here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from feedline.contract import valuesets
from feedline.contract.model import Contract, parse_contract
from feedline.contract.tables import TABLE_KINDS, table_location, table_stem

ADDITIVE, BREAKING, MIGRATION, RULES = "additive", "breaking", "migration", "rules"
# What needs the lock rewritten: anything that changes tables.
TABLE_CHANGES = (ADDITIVE, BREAKING, MIGRATION)


@dataclass(frozen=True)
class Change:
    feed: str
    kind: str
    what: str

    def __str__(self) -> str:
        return f"{self.feed}: {self.kind}: {self.what}"


def record(contract: Contract) -> dict[str, Any]:
    """A contract as the lock keeps it (JSON-ready, stable order): what its tables and rules are
    made of, the file it came from left out."""
    raw = asdict(contract)
    raw.pop("source_path")
    for column in raw["columns"]:
        if column["allowed_values_name"]:
            column["allowed_values"] = None  # the set's name stands for it
    return json.loads(json.dumps(raw, sort_keys=True))


def from_record(data: dict[str, Any]) -> Contract:
    """The contract a lock record describes (parsed again, so an old record meets today's checks)."""
    raw = dict(data)
    raw["columns"] = [
        {k: v for k, v in {
            "name": c["name"], "type": c["type"], "required": c["required"], "max_length": c["max_length"],
            "check": c["check"], "pattern": c["pattern"],
            "allowed_values": c["allowed_values_name"] or (list(c["allowed_values"]) if c["allowed_values"] else None),
        }.items() if v is not None}
        for c in data["columns"]
    ]
    raw["deadletter"] = {"threshold": raw.pop("deadletter_threshold"), "on_exceed": raw.pop("on_exceed")}
    raw["reporting"] = [{k: v for k, v in view.items() if v is not None} for view in raw["reporting"]]
    for name in ("partition_by", "migration", "latest_by"):
        if raw.get(name) is None:
            raw.pop(name, None)
    return parse_contract(raw, "<lock>")


def _some(values: set[str], shown: int = 8) -> str:
    """A few values of a set, for a message (value sets run to hundreds)."""
    listed = sorted(values)
    more = f" and {len(listed) - shown} more" if len(listed) > shown else ""
    return ", ".join(listed[:shown]) + more


def _allowed(column) -> set[str] | None:
    if column.allowed_values_name:
        return set(valuesets.NAMED[column.allowed_values_name])
    return set(column.allowed_values) if column.allowed_values else None


def _column_changes(feed: str, old: Contract, new: Contract) -> list[Change]:
    changes = []
    before, after = {c.name: c for c in old.columns}, {c.name: c for c in new.columns}
    for name in before.keys() - after.keys():
        changes.append(Change(feed, BREAKING, f"column {name} removed (or renamed): its data would go"))
    for name in [n for n in after if n not in before]:  # contract order
        column = after[name]
        if column.required:
            changes.append(Change(feed, BREAKING, f"new column {name} is required: rows already loaded have no "
                                                  "value for it (BigQuery cannot add a REQUIRED column)"))
        else:
            changes.append(Change(feed, ADDITIVE, f"new nullable column {name} {column.type}: added to raw, "
                                                  "staging and deadletter in place; rows already loaded read NULL"))
    for name in [n for n in after if n in before]:
        was, now = before[name], after[name]
        if was.type != now.type:
            changes.append(Change(feed, BREAKING, f"column {name} type {was.type} -> {now.type}: "
                                                  "BigQuery cannot change a column's type in place"))
        if now.required and not was.required:
            changes.append(Change(feed, BREAKING, f"column {name} becomes required: staging cannot make a "
                                                  "NULLABLE column REQUIRED in place"))
        if was.required and not now.required:
            changes.append(Change(feed, ADDITIVE, f"column {name} no longer required: staging relaxes it to "
                                                  "NULLABLE in place"))
        allowed_was, allowed_now = _allowed(was), _allowed(now)
        if allowed_was is not None and (allowed_now is None or allowed_now > allowed_was):
            added = "any value" if allowed_now is None else _some(allowed_now - allowed_was)
            changes.append(Change(feed, ADDITIVE, f"column {name} allows {added}"))
        elif allowed_now is not None and allowed_now != allowed_was:
            removed = (allowed_was or set()) - allowed_now
            what = f"no longer allows {_some(removed)}" if removed else "allows other values"
            changes.append(Change(feed, RULES, f"column {name} {what}: new rows with them go to deadletter, "
                                               "rows already loaded stay"))
        for rule in ("max_length", "check", "pattern"):
            if getattr(was, rule) != getattr(now, rule):
                changes.append(Change(feed, RULES, f"column {name} {rule} {getattr(was, rule)!r} -> "
                                                   f"{getattr(now, rule)!r}: applies to new files"))
    return changes


def _table_changes(feed: str, old: Contract, new: Contract) -> list[Change]:
    changes = []
    if old.key != new.key:
        changes.append(Change(feed, BREAKING, f"key {list(old.key)} -> {list(new.key)}: staging holds one row "
                                              "per old key"))
    if old.partition_by != new.partition_by:
        changes.append(Change(feed, BREAKING, f"partitioning {old.partition_by} -> {new.partition_by}: "
                                              "BigQuery cannot repartition a table in place"))
    if old.cluster_by != new.cluster_by:
        changes.append(Change(feed, ADDITIVE, f"clustering {list(old.cluster_by)} -> {list(new.cluster_by)}: "
                                              "BigQuery re-clusters new data in place"))
    views_before, views_after = {v.name for v in old.reporting}, {v.name for v in new.reporting}
    for name in sorted(views_after - views_before):
        changes.append(Change(feed, ADDITIVE, f"new reporting view {name}"))
    for name in sorted(views_before - views_after):
        changes.append(Change(feed, BREAKING, f"reporting view {name} removed: its readers lose it"))
    return changes


def _rule_changes(feed: str, old: Contract, new: Contract) -> list[Change]:
    fields = ("file_pattern", "schedule", "latest_by", "deadletter_threshold", "on_exceed", "deadline_minutes",
              "description", "schema_drift")
    changes = [
        Change(feed, RULES, f"{name} {getattr(old, name)!r} -> {getattr(new, name)!r}")
        for name in fields if getattr(old, name) != getattr(new, name)
    ]
    views_before = {v.name: v for v in old.reporting}
    for view in new.reporting:
        if view.name in views_before and views_before[view.name] != view:
            changes.append(Change(feed, RULES, f"reporting view {view.name} options changed (Terraform updates them)"))
    return changes


def new_tables(contract: Contract) -> list[str]:
    return [".".join(table_location(contract.feed, kind, contract.version)) for kind in TABLE_KINDS]


def classify(feed: str, old: Contract | None, new: Contract | None) -> list[Change]:
    """Every change from ``old`` to ``new`` (None: the feed does not exist on that side)."""
    if old is None and new is None:
        return []
    if old is None:
        return [Change(feed, ADDITIVE, "new feed: its tables are created")]
    if new is None:
        return [Change(feed, BREAKING, "feed removed: Terraform would destroy its tables")]
    if new.version < old.version:
        return [Change(feed, BREAKING, f"version {old.version} -> {new.version}: table versions only go up")]
    if new.version > old.version:
        migration = new.migration
        if migration is None or migration.from_version != old.version:
            return [Change(feed, BREAKING, f"version {old.version} -> {new.version} without "
                                           f"migration: {{from_version: {old.version}, backfill_from: YYYY-MM-DD}}")]
        return [Change(feed, MIGRATION, (
            f"table version {old.version} -> {new.version}: new tables {', '.join(new_tables(new))} beside the "
            f"version-{old.version} ones (kept, no longer loaded), filled by a backfill from "
            f"{migration.backfill_from}; steps: " + "; then ".join(migration_steps(feed, old, new))
        ))] + _rule_changes(feed, old, new)
    return _column_changes(feed, old, new) + _table_changes(feed, old, new) + _rule_changes(feed, old, new)


# Where the platform module keeps the feed tables (terraform/modules/bigquery, for_each key
# "<table stem>.<kind>"): a migration's old tables leave the configuration, and Terraform, which
# would destroy them (deletion_protection refuses), is told to forget them instead.
TABLE_ADDRESS = 'module.platform.module.bigquery.google_bigquery_table.table["{stem}.{kind}"]'


def migration_steps(feed: str, old: Contract, new: Contract) -> list[str]:
    """What to run, in order, to ship a declared migration (each environment)."""
    stem = table_stem(feed, old.version)
    forget = " ".join(f"'{TABLE_ADDRESS.format(stem=stem, kind=kind)}'" for kind in TABLE_KINDS)
    return [
        f"terraform state rm {forget}   # keep the version-{old.version} tables as they are",
        "terraform apply   # creates the new tables; the views now read the new staging table",
        f"airflow backfill create --dag-id feedline_{feed} --from-date {new.migration.backfill_from} --to-date <today>",
    ]


def classify_all(old: dict[str, Contract], new: dict[str, Contract]) -> list[Change]:
    return [change for feed in sorted(old.keys() | new.keys()) for change in classify(feed, old.get(feed), new.get(feed))]


def breaking(changes: list[Change]) -> list[Change]:
    return [c for c in changes if c.kind == BREAKING]


def migration_hint(feed: str, contract: Contract | None) -> str:
    version = contract.version if contract else 1
    return (
        f"To make it, declare a migration in contracts/{feed}.yaml: version: {version + 1} and "
        f"migration: {{from_version: {version}, backfill_from: YYYY-MM-DD}}. The feed then gets new tables "
        f"({table_stem(feed, version + 1)}, ...) beside the old ones, and a backfill from that day fills them."
    )


def refusal(changes: list[Change], old: dict[str, Contract]) -> str | None:
    """Why a set of changes cannot go in (None when it can): each breaking change and, per feed,
    how to declare the migration that would let it."""
    refused = breaking(changes)
    if not refused:
        return None
    lines = ["Breaking contract changes (the tables cannot follow in place):"]
    lines += [f"  - {c}" for c in refused]
    lines += [migration_hint(feed, old.get(feed)) for feed in dict.fromkeys(c.feed for c in refused)]
    return "\n".join(lines)


def lock_text(contracts: dict[str, Contract]) -> str:
    return json.dumps({feed: record(c) for feed, c in sorted(contracts.items())}, indent=2, sort_keys=True) + "\n"


def read_lock(text: str) -> dict[str, Contract]:
    return {feed: from_record(data) for feed, data in json.loads(text).items()}
