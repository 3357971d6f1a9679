"""Feed contracts: the one description of each feed, loaded from ``contracts/*.yaml``.

Everything else (row validation, BigQuery schemas, MERGE SQL, the DAG per feed, local
provisioning and Terraform) is derived from a :class:`Contract`. This module imports neither
Airflow nor Beam, so the Beam job, the CLI and the DAG factory can all use it.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from feedline.contract import valuesets

TYPES = ("STRING", "INT64", "NUMERIC", "FLOAT64", "BOOL", "DATE", "TIMESTAMP")
NAMED_CHECKS = ("email",)
ON_EXCEED = ("warn", "fail")
GRANULARITIES = ("DAY", "MONTH")
# What a file whose header differs from the contract gets (schema_drift). The first of each is
# the default: the whole file is quarantined with the reason.
EXTRA_COLUMN_POLICIES = ("quarantine", "ignore", "evolve")
MISSING_COLUMN_POLICIES = ("quarantine", "null")
# A file's date as its name carries it (archive folders, backfills): eight ASCII digits.
FILE_DATE = re.compile(r"[0-9]{8}", re.ASCII)
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
FEED_NAME = re.compile(r"^[a-z][a-z0-9_]{0,29}$")
# Folders of the landing bucket that are not feeds: a feed of that name would sweep them.
RESERVED_FEEDS = ("processing",)
# A batch claimed but not in staging this long after its run was queued alerts Slack.
DEFAULT_DEADLINE_MINUTES = 120

# The repository's contracts/ (this package cannot import feedline.settings): the default for
# tests and tools. Deployed code passes Settings.contracts_dir (FEEDLINE_CONTRACTS_DIR).
REPOSITORY_CONTRACTS_DIR = Path(__file__).resolve().parents[3] / "contracts"


class ContractError(ValueError):
    """A contract file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    max_length: int | None = None
    check: str | None = None
    pattern: str | None = None
    allowed_values: tuple[str, ...] | None = None
    allowed_values_name: str | None = None


@dataclass(frozen=True)
class Partitioning:
    column: str
    granularity: str = "DAY"


@dataclass(frozen=True)
class ReportingView:
    """A materialized view over staging, defined by ``sql/reporting/<name>.sql``.

    partition_by/cluster_by/refresh apply in BigQuery only (Terraform); the emulator cannot
    create a materialized view with them, so local provisioning leaves them out."""

    name: str
    partition_by: str | None = None
    cluster_by: tuple[str, ...] = ()
    refresh_interval_minutes: int = 60


@dataclass(frozen=True)
class Migration:
    """How a contract whose tables cannot change in place moves to a new table version: the new
    version's tables are created beside the old ones (which stay readable), and a backfill from
    ``backfill_from`` re-ingests the archived files into them."""

    from_version: int
    backfill_from: str  # YYYY-MM-DD, the first archived day the new tables get


@dataclass(frozen=True)
class SchemaDrift:
    """What a file whose header differs from the contract gets.

    extra_columns: ``quarantine`` the file; ``ignore`` the columns (their names go to the
    audit); ``evolve``: add them to raw and staging as NULLABLE STRING columns and load them.
    missing_columns (not required ones; a missing required column always quarantines):
    ``quarantine`` the file, or ``null``: load the file with NULL there (recorded in the audit)."""

    extra_columns: str = "quarantine"
    missing_columns: str = "quarantine"


@dataclass(frozen=True)
class Contract:
    feed: str
    description: str
    file_pattern: str
    schedule: str | None
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    latest_by: str | None
    partition_by: Partitioning | None
    cluster_by: tuple[str, ...]
    deadletter_threshold: float
    on_exceed: str
    reporting: tuple[ReportingView, ...]
    deadline_minutes: float = DEFAULT_DEADLINE_MINUTES
    # Table version: 1 is the feed's tables as named; a migration to version N makes <feed>_vN.
    version: int = 1
    migration: Migration | None = None
    schema_drift: SchemaDrift = SchemaDrift()
    source_path: str = field(default="", compare=False)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def matches_file_name(self, name: str) -> bool:
        return self.file_date(name) is not None

    def file_date(self, name: str) -> str | None:
        """The YYYYMMDD date a file name carries, or None when the name does not match. A date
        group that is not eight ASCII digits does not match either, whatever the pattern."""
        match = compile_file_pattern(self.file_pattern).match(os.path.basename(name))
        date = match.group("date") if match else None
        return date if date is not None and FILE_DATE.fullmatch(date) else None


def compile_file_pattern(pattern: str) -> re.Pattern:
    """A contract's file-name pattern as every caller matches it: ``re.ASCII``, so ``\\d`` and
    ``\\w`` accept ASCII only (Python's default accepts every Unicode digit: a name with
    Arabic-Indic digits would match and its date would name no archive folder a backfill finds)."""
    return re.compile(pattern, re.ASCII)


def non_ascii_digits(pattern: str) -> list[str]:
    """Digits other than 0-9 written in a pattern (literally or in a class range)."""
    return sorted({ch for ch in pattern if not ch.isascii() and unicodedata.category(ch) == "Nd"})


def load_contracts(directory: Path | str = REPOSITORY_CONTRACTS_DIR) -> dict[str, Contract]:
    """Every ``*.yaml`` contract in ``directory``, by feed name, sorted. The caller says where
    (deployed code: ``Settings.contracts_dir``); the default is the repository's contracts/."""
    directory = Path(directory)
    contracts: dict[str, Contract] = {}
    for path in sorted(directory.glob("*.yaml")):
        contract = load_contract(path)
        if contract.feed in contracts:
            raise ContractError(
                f"{path}: feed: {contract.feed!r} is already defined in "
                f"{contracts[contract.feed].source_path}"
            )
        contracts[contract.feed] = contract
    return contracts


def load_contract(path: Path | str) -> Contract:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ContractError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ContractError(f"{path}: a contract is a mapping of fields")
    return parse_contract(raw, str(path))


def parse_contract(raw: dict[str, Any], source: str = "<contract>") -> Contract:
    def fail(field_name: str, message: str) -> ContractError:
        return ContractError(f"{source}: {field_name}: {message}")

    known = {
        "feed", "description", "file_pattern", "schedule", "columns", "key", "latest_by",
        "partition_by", "cluster_by", "deadletter", "reporting", "deadline_minutes", "version", "migration",
        "schema_drift",
    }
    for unknown in sorted(set(raw) - known):
        raise fail(unknown, "unknown field")

    feed = raw.get("feed")
    if not isinstance(feed, str) or not FEED_NAME.match(feed):
        raise fail("feed", f"{feed!r} must be lower_snake_case, at most 30 characters")
    if feed in RESERVED_FEEDS:
        raise fail("feed", f"{feed!r} is reserved (a folder of the landing bucket)")

    file_pattern = raw.get("file_pattern")
    if not isinstance(file_pattern, str):
        raise fail("file_pattern", "missing")
    try:
        compiled = compile_file_pattern(file_pattern)
    except (re.error, ValueError) as exc:
        # An inline (?u) ends here too (ValueError: "ASCII and UNICODE flags are incompatible").
        raise fail("file_pattern", f"not a valid regular expression with ASCII matching (re.ASCII): {exc}") from exc
    digits = non_ascii_digits(file_pattern)
    if digits:
        raise fail("file_pattern", f"file names match ASCII digits only; the pattern has other digits: {digits}")
    if "date" not in compiled.groupindex:
        raise fail("file_pattern", "must capture the file's date as (?P<date>...)")
    if not file_pattern.startswith("^") or not file_pattern.endswith("$"):
        raise fail("file_pattern", "must be anchored with ^ and $")

    columns = tuple(_parse_column(c, i, fail) for i, c in enumerate(raw.get("columns") or []))
    if not columns:
        raise fail("columns", "a contract needs at least one column")
    names = [c.name for c in columns]
    for name in names:
        if names.count(name) > 1:
            raise fail("columns", f"duplicate column {name!r}")

    def column_ref(field_name: str, value: Any) -> str:
        if value not in names:
            raise fail(field_name, f"{value!r} is not a column of this feed")
        return value

    key = tuple(column_ref("key", k) for k in _as_list(raw.get("key")))
    if not key:
        raise fail("key", "a feed needs at least one key column")
    for k in key:
        if not next(c for c in columns if c.name == k).required:
            raise fail("key", f"key column {k!r} must be required")

    latest_by = raw.get("latest_by")
    if latest_by is not None:
        column_ref("latest_by", latest_by)

    partition_by = None
    if raw.get("partition_by") is not None:
        spec = raw["partition_by"]
        if not isinstance(spec, dict):
            raise fail("partition_by", "must be a mapping with column and granularity")
        column = column_ref("partition_by.column", spec.get("column"))
        if next(c for c in columns if c.name == column).type not in ("DATE", "TIMESTAMP"):
            raise fail("partition_by.column", f"{column!r} must be a DATE or TIMESTAMP column")
        granularity = spec.get("granularity", "DAY")
        if granularity not in GRANULARITIES:
            raise fail("partition_by.granularity", f"{granularity!r} is not one of {GRANULARITIES}")
        partition_by = Partitioning(column, granularity)

    cluster_by = tuple(column_ref("cluster_by", c) for c in _as_list(raw.get("cluster_by")))
    if len(cluster_by) > 4:
        raise fail("cluster_by", "BigQuery clusters by at most 4 columns")

    threshold, on_exceed = _parse_deadletter(raw.get("deadletter") or {}, fail)

    reporting = tuple(_parse_view(v, fail) for v in _as_list(raw.get("reporting")))

    schedule = raw.get("schedule")
    if schedule is not None and not isinstance(schedule, str):
        raise fail("schedule", "must be a cron expression, a preset like @hourly, or null")

    version, migration = _parse_version(raw.get("version", 1), raw.get("migration"), fail)

    return Contract(
        feed=feed,
        description=str(raw.get("description") or ""),
        file_pattern=file_pattern,
        schedule=schedule,
        columns=columns,
        key=key,
        latest_by=latest_by,
        partition_by=partition_by,
        cluster_by=cluster_by,
        deadletter_threshold=float(threshold),
        on_exceed=on_exceed,
        reporting=reporting,
        deadline_minutes=_parse_deadline(raw.get("deadline_minutes", DEFAULT_DEADLINE_MINUTES), fail),
        version=version,
        migration=migration,
        schema_drift=_parse_schema_drift(raw.get("schema_drift"), fail),
        source_path=source,
    )


def _parse_version(version: Any, migration: Any, fail) -> tuple[int, Migration | None]:
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise fail("version", f"{version!r} must be a whole number from 1")
    if migration is None:
        return version, None
    if not isinstance(migration, dict):
        raise fail("migration", "must be a mapping with from_version and backfill_from")
    unknown = sorted(set(migration) - {"from_version", "backfill_from"})
    if unknown:
        raise fail(f"migration.{unknown[0]}", "unknown field")
    from_version = migration.get("from_version")
    if not isinstance(from_version, int) or isinstance(from_version, bool) or not 1 <= from_version < version:
        raise fail("migration.from_version", f"{from_version!r} must be an earlier version than version: {version}")
    backfill_from = str(migration.get("backfill_from", ""))
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", backfill_from, re.ASCII):
        raise fail("migration.backfill_from", f"{backfill_from!r} must be a date, YYYY-MM-DD")
    return version, Migration(from_version, backfill_from)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _parse_deadletter(deadletter: dict, fail) -> tuple[float, str]:
    threshold = deadletter.get("threshold")
    if not _is_number(threshold) or not 0 <= threshold <= 1:
        raise fail("deadletter.threshold", f"{threshold!r} must be a share between 0 and 1")
    on_exceed = deadletter.get("on_exceed", "warn")
    if on_exceed not in ON_EXCEED:
        raise fail("deadletter.on_exceed", f"{on_exceed!r} is not one of {ON_EXCEED}")
    return threshold, on_exceed


def _parse_deadline(deadline: Any, fail) -> float:
    """Minutes from a run's queueing to its batch in staging; fractions allowed (tests use seconds)."""
    if not _is_number(deadline) or not 0 < deadline <= 7 * 24 * 60:
        raise fail("deadline_minutes", f"{deadline!r} must be a number of minutes above 0, at most a week (10080)")
    return deadline


def _parse_schema_drift(raw: Any, fail) -> SchemaDrift:
    if raw is None:
        return SchemaDrift()
    if not isinstance(raw, dict):
        raise fail("schema_drift", "must be a mapping with extra_columns and/or missing_columns")
    for unknown in sorted(set(raw) - {"extra_columns", "missing_columns"}):
        raise fail(f"schema_drift.{unknown}", "unknown field; expected extra_columns or missing_columns")
    default = SchemaDrift()
    extra = raw.get("extra_columns", default.extra_columns)
    if extra not in EXTRA_COLUMN_POLICIES:
        raise fail("schema_drift.extra_columns", f"{extra!r} is not one of {', '.join(EXTRA_COLUMN_POLICIES)}")
    missing = raw.get("missing_columns", default.missing_columns)
    if "missing_columns" in raw and missing is None:
        missing = "null"  # YAML reads an unquoted `null` as None: that policy is what it means
    if missing not in MISSING_COLUMN_POLICIES:
        raise fail("schema_drift.missing_columns", f"{missing!r} is not one of {', '.join(MISSING_COLUMN_POLICIES)}")
    return SchemaDrift(extra_columns=extra, missing_columns=missing)


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _parse_view(raw: Any, fail) -> ReportingView:
    spec = {"name": raw} if isinstance(raw, str) else raw
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise fail("reporting", f"{raw!r} must be a view name or a mapping with a name")
    name = spec["name"]
    if not IDENTIFIER.match(name):
        raise fail("reporting", f"{name!r} is not a valid view name")
    unknown = sorted(set(spec) - {"name", "partition_by", "cluster_by", "refresh_interval_minutes"})
    if unknown:
        raise fail(f"reporting[{name}].{unknown[0]}", "unknown field")
    refresh = spec.get("refresh_interval_minutes", 60)
    if not isinstance(refresh, int) or refresh < 1:
        raise fail(f"reporting[{name}].refresh_interval_minutes", "must be a positive integer")
    return ReportingView(
        name=name,
        partition_by=spec.get("partition_by"),
        cluster_by=tuple(_as_list(spec.get("cluster_by"))),
        refresh_interval_minutes=refresh,
    )


def _parse_column(raw: Any, index: int, fail) -> Column:
    where = f"columns[{index}]"
    if not isinstance(raw, dict):
        raise fail(where, "each column is a mapping with at least name and type")
    known = {"name", "type", "required", "max_length", "check", "pattern", "allowed_values"}
    for unknown in sorted(set(raw) - known):
        raise fail(f"{where}.{unknown}", "unknown field")
    name = raw.get("name")
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise fail(f"{where}.name", f"{name!r} must be lower_snake_case")
    where = f"columns[{name}]"
    type_ = raw.get("type")
    if type_ not in TYPES:
        raise fail(f"{where}.type", f"unknown type {type_!r}; expected one of {', '.join(TYPES)}")
    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise fail(f"{where}.required", "must be true or false")
    max_length = raw.get("max_length")
    if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
        raise fail(f"{where}.max_length", "must be a positive integer")
    check = raw.get("check")
    if check is not None and check not in NAMED_CHECKS:
        raise fail(f"{where}.check", f"unknown check {check!r}; expected one of {NAMED_CHECKS}")
    pattern = raw.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise fail(f"{where}.pattern", f"not a valid regular expression: {exc}") from exc
    allowed = raw.get("allowed_values")
    allowed_values, allowed_name = None, None
    if isinstance(allowed, str):
        if allowed not in valuesets.NAMED:
            raise fail(f"{where}.allowed_values", f"unknown value set {allowed!r}")
        allowed_values, allowed_name = valuesets.NAMED[allowed], allowed
    elif allowed is not None:
        if not isinstance(allowed, list) or not allowed:
            raise fail(f"{where}.allowed_values", "must be a non-empty list or a value set name")
        allowed_values = tuple(str(v) for v in allowed)
    if (check or pattern or allowed_values) and type_ != "STRING":
        raise fail(where, "check, pattern and allowed_values apply to STRING columns only")
    return Column(
        name=name,
        type=type_,
        required=required,
        max_length=max_length,
        check=check,
        pattern=pattern,
        allowed_values=allowed_values,
        allowed_values_name=allowed_name,
    )
