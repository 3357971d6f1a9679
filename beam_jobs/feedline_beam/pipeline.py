"""Feedline ingestion job: validate a batch of claimed CSV files against their feed contract.

Reads every file under ``--input`` (the batch's claimed files), checks each file's header
against the contract, parses and validates every record, and writes three outputs under
``--output_prefix``:

- ``valid/``       load-ready rows (newline-delimited JSON, typed as the raw table expects);
- ``deadletter/``  rejected rows with the raw text, line number, source file and reason;
- ``summary/``     one line per file: rows read/valid/deadlettered, reasons, or the file error.

Nothing is dropped: every record of an accepted file ends in valid or deadletter, and a file
that cannot be read at all gets a summary line with its ``file_error`` (the DAG quarantines it).

Run locally (DirectRunner), as the DAG does:

    python -m feedline_beam.pipeline --feed transactions --contract contracts/transactions.yaml \\
        --input 'gs://landing/processing/transactions/BATCH/*' \\
        --output_prefix gs://work/batches/transactions/BATCH/ --batch_id BATCH \\
        --ingested_at 2026-11-27T00:00:00Z

In the cloud the same options arrive as flex template parameters (see beam_jobs/metadata.json).
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
from typing import Any, Iterable

import apache_beam as beam
import yaml
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions

from feedline.contracts import Contract, parse_contract
from feedline.csvio import FileRejected, iter_records
from feedline.validation import FileSummary, RowError, partition_column, validate_records


class IngestOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--feed", required=True, help="Feed name, as in its contract.")
        parser.add_argument("--contract", required=True, help="Path or gs:// URI of the contract YAML.")
        parser.add_argument("--input", required=True, help="File pattern of the batch's claimed files.")
        parser.add_argument("--output_prefix", required=True, help="Where valid/deadletter/summary go.")
        parser.add_argument("--batch_id", required=True, help="Batch id, stamped on every row.")
        parser.add_argument("--ingested_at", required=True, help="Claim time (RFC 3339), stamped on rows.")


def read_contract(uri: str) -> Contract:
    with FileSystems.open(uri) as handle:
        return parse_contract(yaml.safe_load(handle.read().decode("utf-8")), uri)


def printable(text: str) -> str:
    """Raw text for the deadletter table: undecodable bytes shown as \\xNN, not lost."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class ValidateFile(beam.DoFn):
    """Parse and validate one whole file (records may span lines, so a file is not split)."""

    DEADLETTER = "deadletter"
    SUMMARY = "summary"

    def __init__(self, contract: Contract, batch_id: str, ingested_at: str):
        self.contract = contract
        self.stamp = {"_batch_id": batch_id, "_ingested_at": ingested_at}
        self.partition_column = partition_column(contract)
        feed = contract.feed
        self.rows_read = Metrics.counter(feed, "rows_read")
        self.rows_valid = Metrics.counter(feed, "rows_valid")
        self.rows_deadletter = Metrics.counter(feed, "rows_deadletter")
        self.files_rejected = Metrics.counter(feed, "files_rejected")

    def process(self, readable: fileio.ReadableFile) -> Iterable[Any]:
        source_file = posixpath.basename(readable.metadata.path)
        summary = FileSummary(self.contract.feed, reasons={})
        with readable.open(compression_type=beam.io.filesystem.CompressionTypes.UNCOMPRESSED) as stream:
            try:
                for record, outcome in validate_records(self.contract, iter_records(stream)):
                    summary.add(outcome, self.partition_column)
                    where = {**self.stamp, "_source_file": source_file, "_line_number": record.line_number}
                    if isinstance(outcome, RowError):
                        yield beam.pvalue.TaggedOutput(
                            self.DEADLETTER,
                            {**where, "raw_line": printable(record.raw), "reason": outcome.key,
                             "column_name": outcome.column},
                        )
                    else:
                        yield {**outcome, **where}
            except FileRejected as exc:
                summary.file_error = exc.reason
                self.files_rejected.inc()
        self.rows_read.inc(summary.rows_read)
        self.rows_valid.inc(summary.rows_valid)
        self.rows_deadletter.inc(summary.rows_deadletter)
        yield beam.pvalue.TaggedOutput(
            self.SUMMARY,
            {**vars(summary), "source_file": source_file, "reasons": json.dumps(summary.reasons, sort_keys=True)},
        )


class ValidateBatch(beam.PTransform):
    """File pattern -> (valid rows, deadletter rows, per-file summaries)."""

    def __init__(self, contract: Contract, input_pattern: str, batch_id: str, ingested_at: str):
        super().__init__()
        self.contract, self.input_pattern = contract, input_pattern
        self.batch_id, self.ingested_at = batch_id, ingested_at

    def expand(self, pbegin):
        return (
            pbegin
            | "MatchFiles" >> fileio.MatchFiles(self.input_pattern)
            | "ReadMatches" >> fileio.ReadMatches()
            | "SpreadFiles" >> beam.Reshuffle()
            | "ValidateFile" >> beam.ParDo(
                ValidateFile(self.contract, self.batch_id, self.ingested_at)
            ).with_outputs(ValidateFile.DEADLETTER, ValidateFile.SUMMARY, main="valid")
        )


class WriteJsonLines(beam.PTransform):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def expand(self, pcoll):
        return (
            pcoll
            | "ToJson" >> beam.Map(lambda row: json.dumps(row, ensure_ascii=False, sort_keys=True))
            | "Write" >> beam.io.WriteToText(self.prefix, file_name_suffix=".jsonl")
        )


def use_emulator_credentials() -> None:
    """Local runs only: talk to the GCS emulator anonymously.

    Beam otherwise retries Google's default-credentials lookup for about 30 s and then falls
    back to anonymous access anyway; STORAGE_EMULATOR_HOST is never set on Dataflow.
    """
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from apache_beam.internal.gcp import auth

        auth._Credentials._credentials_init = True
        auth._Credentials._credentials = None


def run(argv: list[str] | None = None) -> beam.runners.runner.PipelineResult:
    options = PipelineOptions(argv)
    options.view_as(SetupOptions).save_main_session = False
    ingest = options.view_as(IngestOptions)
    use_emulator_credentials()
    contract = read_contract(ingest.contract)
    if contract.feed != ingest.feed:
        raise ValueError(f"--feed {ingest.feed!r} but {ingest.contract} describes {contract.feed!r}")
    out = ingest.output_prefix.rstrip("/") + "/"
    with beam.Pipeline(options=options) as pipeline:
        results = pipeline | "Validate" >> ValidateBatch(
            contract, ingest.input, ingest.batch_id, ingest.ingested_at
        )
        results.valid | "WriteValid" >> WriteJsonLines(out + "valid/part")
        results.deadletter | "WriteDeadletter" >> WriteJsonLines(out + "deadletter/part")
        results.summary | "WriteSummary" >> WriteJsonLines(out + "summary/part")
    return pipeline.result


if __name__ == "__main__":
    logging.getLogger().setLevel(logging.INFO)
    run()
