"""Names of batches and of the objects a batch moves through. Pure functions."""

from __future__ import annotations

import hashlib
import posixpath
import re


def dag_id(feed: str) -> str:
    """The id of the feed's ingestion DAG (the DAG factory, the trigger's feed map, tools)."""
    return f"feedline_{feed}"


def batch_id_for_run(feed: str, run_id: str) -> str:
    """A batch id that is stable for a DAG run (retries, clears) and unique among its runs.

    Readable prefix from the run id, plus a hash so two run ids that read alike never collide.
    Safe as a BigQuery value, a GCS path segment and a Dataflow job-name part.
    """
    readable = re.sub(r"[^a-z0-9]+", "_", run_id.lower()).strip("_")[:36].strip("_")
    digest = hashlib.sha256(f"{feed}\0{run_id}".encode()).hexdigest()[:10]
    return f"{readable}_{digest}" if readable else digest


def batch_id_for_dag_run(feed: str, run_id: str, run_type: str | None = None) -> str:
    """The batch of a DAG run. A backfill's is its own even when the backfill reprocesses a run
    that already exists: Airflow then clears that run and makes it a backfill run with the same
    run id, and the scheduled batch it was must stay as it was (its files, its raw rows)."""
    return batch_id_for_run(feed, f"backfill:{run_id}" if run_type == "backfill" else run_id)


def landing_prefix(feed: str) -> str:
    return f"{feed}/"


def processing_prefix(feed: str, batch_id: str) -> str:
    """Where a batch's claimed files sit while it runs (same bucket as landing)."""
    return f"processing/{feed}/{batch_id}/"


def output_prefix(feed: str, batch_id: str) -> str:
    """Where the Beam job writes valid/, deadletter/ and summary/ (work bucket)."""
    return f"batches/{feed}/{batch_id}/"


# The Beam job's finished files in each output folder (``<output>/part-<file>-<range>...``).
# Loads read these only: a file being written is ``<output>/tmp-part-...`` until it is
# complete, and a job killed half way leaves such files (the retried job deletes them at
# launch: feedline_beam.pipeline.clear_outputs).
OUTPUT_FILES = "part-*"


def archive_name(feed: str, file_date: str, batch_id: str, file_name: str) -> str:
    """Archived files are grouped by the date in their name, so a backfill can find them."""
    return f"{feed}/date={file_date}/{batch_id}/{file_name}"


def archive_date_prefix(feed: str, file_date: str) -> str:
    return f"{feed}/date={file_date}/"


# GCS refuses object names longer than this (bytes of UTF-8).
MAX_OBJECT_NAME_BYTES = 1024
# Path segments GCS stores as they are but tools resolve (gsutil, gcsfuse, local copies) and the
# local GCS emulator refuses: a quarantine name never keeps them.
UNSAFE_SEGMENTS = ("", ".", "..")


def relative_name(feed: str, object_name: str) -> str:
    """A landing object's name below its feed's prefix (keeps sub-folders: ``a/x.csv``)."""
    return object_name.removeprefix(landing_prefix(feed))


def longest_file_name(feed: str, batch_id: str) -> int:
    """The longest file name (bytes) a batch can claim: its processing and archive names, the
    longest places it goes, must stay within GCS's limit."""
    longest_prefix = max(
        len(processing_prefix(feed, batch_id).encode()),
        len(archive_name(feed, "YYYYMMDD", batch_id, "").encode()),
    )
    return MAX_OBJECT_NAME_BYTES - longest_prefix


def quarantine_name(feed: str, batch_id: str, relative: str) -> str:
    """Where a batch quarantines an object: its path below the feed's landing prefix, kept, so
    two objects of one claim never share a quarantine name (``a/x.csv``, ``b/x.csv``). A path
    too long for GCS or with a segment tools resolve (``..``) becomes a digest of the whole path
    and the end of its base name: still one name per object (the object keeps its landing name
    in its metadata)."""
    prefix = f"{feed}/{batch_id}/"
    name = prefix + relative
    if len(name.encode()) <= MAX_OBJECT_NAME_BYTES and not set(relative.split("/")) & set(UNSAFE_SEGMENTS):
        return name
    digest = hashlib.sha256(relative.encode()).hexdigest()[:32]
    room = MAX_OBJECT_NAME_BYTES - len(prefix.encode()) - len(digest) - 1
    return f"{prefix}{digest}_{_tail_bytes(file_name(relative), room)}"


def _tail_bytes(text: str, limit: int) -> str:
    """The end of ``text`` within ``limit`` bytes of UTF-8, never cutting a character."""
    data = text.encode()[-limit:] if limit > 0 else b""
    return data.decode(errors="ignore")


def file_name(object_name: str) -> str:
    return posixpath.basename(object_name)
