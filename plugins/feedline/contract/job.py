"""The Beam job's parameters, declared once: name, label, help text and validating regexes.

Both sides read this: the DAG's launch (``feedline.orchestrate.launch``) sends the required
ones, the job (``feedline_beam.pipeline.IngestOptions``) declares its options from it, and
``beam_jobs/metadata.json`` (what Dataflow checks a launch against) must say the same; a test
compares the file with :func:`metadata_parameters`. Pure data; imports nothing of Feedline's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The bucket part of a gs:// URI (GCS bucket naming rules, without dotted names' extras).
_BUCKET = r"gs://[a-z0-9][-_.a-z0-9]{1,61}[a-z0-9]"


@dataclass(frozen=True)
class JobParameter:
    name: str
    label: str
    help: str
    regexes: tuple[str, ...]
    optional: bool = False
    param_type: str | None = None  # Dataflow's paramType (GCS_READ_FILE...), when it has one

    def metadata(self) -> dict[str, Any]:
        """This parameter as an entry of metadata.json's ``parameters``."""
        entry: dict[str, Any] = {"name": self.name, "label": self.label, "helpText": self.help}
        if self.optional:
            entry["isOptional"] = True
        entry["regexes"] = list(self.regexes)
        if self.param_type:
            entry["paramType"] = self.param_type
        return entry


PARAMETERS: tuple[JobParameter, ...] = (
    JobParameter(
        "feed", "Feed",
        "Feed name, as in its contract (lower_snake_case, at most 30 characters), e.g. transactions.",
        (r"^[a-z][a-z0-9_]{0,29}$",),
    ),
    JobParameter(
        "contract", "Feed contract",
        "gs:// URI of the feed's contract YAML, e.g. gs://feedline-work/contracts/transactions.yaml.",
        (rf"^{_BUCKET}/[^\s*?\[\]]+\.ya?ml$",),
        param_type="GCS_READ_FILE",
    ),
    JobParameter(
        "input", "Input files",
        "gs:// file pattern of the batch's claimed files, e.g. gs://feedline-landing/processing/transactions/BATCH/*.",
        (rf"^{_BUCKET}/[^\s]+$",),
    ),
    JobParameter(
        "output_prefix", "Output prefix",
        "gs:// folder the job writes valid/, deadletter/ and summary/ under, ending in /, "
        "e.g. gs://feedline-work/batches/transactions/BATCH/.",
        (rf"^{_BUCKET}/([^\s*?\[\]]+/)?$",),
        param_type="GCS_WRITE_FOLDER",
    ),
    JobParameter(
        "batch_id", "Batch id",
        "The batch (DAG run) id stamped on every row: lower-case letters, digits and underscores, at most 63.",
        (r"^[a-z0-9][a-z0-9_]{0,62}$",),
    ),
    JobParameter(
        "ingested_at", "Ingested at",
        "When the batch was claimed, RFC 3339 in UTC (e.g. 2026-11-27T08:15:00.000000Z), stamped on every row.",
        (r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?Z$",),
    ),
    JobParameter(
        "engine", "Validation engine",
        "columnar (default: Arrow blocks) or row (the row-by-row reference; same outputs, slower).",
        (r"^(columnar|row)$",),
        optional=True,
    ),
    JobParameter(
        "range_mb", "File range size (MB)",
        "Plain files larger than twice this are read in ranges of about this size by several workers; "
        "0 never splits. Default 128.",
        (r"^(0|[1-9]\d{0,5})$",),
        optional=True,
    ),
    JobParameter(
        "block_mb", "Block size (MB)",
        "Megabytes of CSV validated at a time per worker thread (1-64; memory is a few times this). Default 16.",
        (r"^([1-9]|[1-5]\d|6[0-4])$",),
        optional=True,
    ),
)

BY_NAME: dict[str, JobParameter] = {p.name: p for p in PARAMETERS}
# What every launch sends (the batch's own values); the optional ones keep the job's defaults.
LAUNCH_PARAMETERS: tuple[str, ...] = tuple(p.name for p in PARAMETERS if not p.optional)


def metadata_parameters() -> list[dict[str, Any]]:
    """metadata.json's ``parameters``, exactly."""
    return [p.metadata() for p in PARAMETERS]
