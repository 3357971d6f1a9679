"""Feedline ingestion job: validate a batch of claimed CSV files against their feed contract.

Reads every file under ``--input`` (the batch's claimed files), checks each file's header
against the contract, parses and validates every record, and writes three outputs under
``--output_prefix``:

- ``valid/``       load-ready rows (Parquet, typed as the raw table expects: see
                   ``feedline.validate.outputs`` for the Arrow types);
- ``deadletter/``  rejected rows (Parquet) with their exact bytes, readable text, line number,
                   source file and reason;
- ``summary/``     one JSON line per file: rows read/valid/deadlettered, reasons, or the file error.

Each range of a file writes its own ``part-<file>-<range>-of-<ranges>.parquet`` in valid/ and
deadletter/ (rows or not), each file its own ``part-<file>.jsonl`` summary: names that are the
same in every attempt, written as ``tmp-...`` and renamed when complete. A launch first deletes
what an earlier attempt left in the three folders.

Nothing is dropped: every record of an accepted file ends in valid or deadletter, and a file
that cannot be read at all gets a summary line with its ``file_error`` (the DAG quarantines it).

Validation runs on blocks of records (``feedline.validate.columnar``: numpy + Arrow, with the
row-by-row reference deciding every row the fast path does not accept), so a worker moves one
element per block of rows, not per row. A large plain file is split into ranges that start
exactly at records, so several workers share it; its summary is merged back into one line.
``--engine row`` runs the row-by-row reference instead (same outputs, about 10x slower).

Counters (Beam metrics, namespace = the feed): ``rows_read``, ``rows_valid``,
``rows_deadletter``, ``files_rejected``, and per file ``rows_read/<file>``,
``rows_valid/<file>``, ``rows_deadletter/<file>``.

Run locally (DirectRunner), as the DAG does:

    python -m feedline_beam.pipeline --feed transactions --contract contracts/transactions.yaml \\
        --input 'gs://landing/processing/transactions/BATCH/*' \\
        --output_prefix gs://work/batches/transactions/BATCH/ --batch_id BATCH \\
        --ingested_at 2026-11-27T00:00:00Z

In the cloud the same options arrive as flex template parameters (see beam_jobs/metadata.json).
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import re
import sys
from dataclasses import dataclass
from typing import Any, Iterable

# Optional packages that `import apache_beam` loads when they are installed, and that this job
# never uses: pymongo (MongoDB I/O) and Pub/Sub's client, ~0.45 s of Beam's ~4.5 s import on the
# development machine (-X importtime). Beam guards both imports, so a None in sys.modules turns
# them off. (pandas, the largest, stays: pyarrow imports it to convert numpy arrays.) Only when
# this module runs as the job (python -m / the DAG's py_file): a test or a library importing the
# module keeps every package.
SKIPPED_IMPORTS = ("pymongo", "google.cloud.pubsub")
if __name__ == "__main__":
    for _name in SKIPPED_IMPORTS:
        sys.modules.setdefault(_name, None)  # type: ignore[arg-type]

import apache_beam as beam  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import yaml  # noqa: E402
from apache_beam import coders  # noqa: E402
from apache_beam import typehints  # noqa: E402
from apache_beam.io import fileio  # noqa: E402
from apache_beam.io.filesystem import CompressionTypes  # noqa: E402
from apache_beam.io.filesystems import FileSystems  # noqa: E402
from apache_beam.metrics import Metrics  # noqa: E402
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, SetupOptions, StandardOptions  # noqa: E402

from feedline.validate import outputs, reference  # noqa: E402
from feedline.validate.columnar import BLOCK_SIZE, WHOLE_FILE, ColumnarValidator, FileRange, open_range, plan_ranges  # noqa: E402
from feedline.contract import job, tables  # noqa: E402
from feedline.contract.model import Contract, parse_contract  # noqa: E402
from feedline.validate.csvio import FileRejected, iter_records  # noqa: E402
from feedline.validate.header import plan_header  # noqa: E402
from feedline.validate.rules import FileSummary  # noqa: E402

ENGINES = ("columnar", "row")


class ChunkCoder(coders.Coder):
    """Chunks between steps, as Arrow IPC streams. Runners sample element sizes through the
    coder; a chunk's size is its table's, known without encoding."""

    def encode(self, chunk: outputs.Chunk) -> bytes:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, chunk.table.schema) as writer:
            writer.write_table(chunk.table)
        return chunk.output.encode() + b":" + sink.getvalue().to_pybytes()

    def decode(self, encoded: bytes) -> outputs.Chunk:
        output, data = encoded.split(b":", 1)
        return outputs.Chunk(output.decode(), pa.ipc.open_stream(data).read_all())

    def estimate_size(self, chunk: outputs.Chunk) -> int:
        return chunk.table.nbytes + 24

    def is_deterministic(self) -> bool:
        return True


coders.registry.register_coder(outputs.Chunk, ChunkCoder)
Part = typehints.Tuple[str, outputs.Chunk]  # (part_name, chunk): rows of one range's output file
TEMPORARY = "tmp-"  # a local output file's name while it is written (_PartFile)
OBJECT_STORES = ("gs://",)  # where an object appears only once written whole (_PartFile)
DEFAULT_RANGE_MB = 128
# Local runs: a batch of at least this many MB gets one worker process per core; smaller ones
# run in the job's process. Measured on the 2-core machine (beam_jobs/README.md): 2 forked
# workers cost ~0.3 s more (fork, the range pre-scan, more bundles) and break even at ~40 MB.
PARALLEL_MIN_MB = 48
MIN_LOCAL_RANGE_MB = 8
LOCAL_BLOCK_MB = 4


REQUIRED = job.LAUNCH_PARAMETERS


class IngestOptions(PipelineOptions):
    """The job's options, declared in feedline.contract.job (with metadata.json's help texts).
    The launch parameters are required, checked by run(): argparse's required=True would break
    every other pipeline in the process (Beam parses the options of all PipelineOptions
    subclasses), tests with TestPipeline included. Only types, choices and defaults are here."""

    @classmethod
    def _add_argparse_args(cls, parser):
        extra: dict[str, dict[str, Any]] = {
            "engine": {"default": "columnar", "choices": ENGINES},
            # None: DEFAULT_RANGE_MB, or 0 on a DirectRunner with one worker (see range_mb()).
            "range_mb": {"type": int, "default": None},
            "block_mb": {"type": int, "default": BLOCK_SIZE // (1024 * 1024)},
        }
        for parameter in job.PARAMETERS:
            parser.add_argument(f"--{parameter.name}", help=parameter.help, **extra.get(parameter.name, {}))


def read_contract(uri: str) -> Contract:
    with FileSystems.open(uri) as handle:
        return parse_contract(yaml.safe_load(handle.read().decode("utf-8")), uri)


@dataclass(frozen=True)
class FileWork:
    """One range of one claimed file: the unit a worker validates."""

    path: str
    source_file: str
    file_range: FileRange


def _open(path: str):
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


class PlanRanges(beam.DoFn):
    """A claimed file -> the ranges it is read in (one, unless it is large and plain)."""

    def __init__(self, contract: Contract, range_bytes: int, block_size: int):
        self.contract, self.range_bytes, self.block_size = contract, range_bytes, block_size
        self.ranges = Metrics.counter(contract.feed, "file_ranges")

    def setup(self) -> None:
        use_emulator_credentials()  # in a worker process too (Beam's fresh interpreters)

    def process(self, readable: fileio.ReadableFile) -> Iterable[FileWork]:
        path, size = readable.metadata.path, readable.metadata.size_in_bytes
        ranges = [WHOLE_FILE]
        if self.range_bytes and size >= 2 * self.range_bytes:
            with _open(path) as stream:
                ranges = plan_ranges(stream, size, self.contract, self.range_bytes, self.block_size)
        self.ranges.inc(len(ranges))
        for file_range in ranges:
            yield FileWork(path, posixpath.basename(path), file_range)


class ValidateRange(beam.DoFn):
    """Parse and validate one range of a file: valid and deadletter rows come out as chunks
    (Arrow tables; valid ones in the batch's valid schema); the range's counts go to
    SUMMARY_PARTS, keyed by file."""

    DEADLETTER = "deadletter"
    SUMMARY_PARTS = "summary_parts"

    def __init__(self, contract: Contract, batch_id: str, ingested_at: str, engine: str = "columnar",
                 block_size: int = BLOCK_SIZE, valid_schema: pa.Schema | None = None):
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
        self.contract, self.engine, self.block_size = contract, engine, block_size
        self.batch_id, self.ingested_at = batch_id, ingested_at
        self.schemas = stored_schemas(contract, valid_schema or outputs.valid_schema(contract))
        feed = contract.feed
        self.rows_read = Metrics.counter(feed, "rows_read")
        self.rows_valid = Metrics.counter(feed, "rows_valid")
        self.rows_deadletter = Metrics.counter(feed, "rows_deadletter")

    def setup(self) -> None:
        use_emulator_credentials()

    def process(self, work: FileWork) -> Iterable[Any]:
        stamp = outputs.Stamp(self.batch_id, self.ingested_at, work.source_file)
        part = part_name(work.source_file, work.file_range)
        written = set()
        with _open(work.path) as stream:
            if self.engine == "row":
                produced = reference.row_outputs(self.contract, stream, stamp)
            else:
                validator = ColumnarValidator(self.contract, self.block_size)
                produced = validator.validate(open_range(stream, work.file_range), stamp, work.file_range)
            for item in produced:
                if isinstance(item, FileSummary):
                    summary = item
                    continue
                written.add(item.output)
                yield self._tagged(part, item.output, outputs.conform(item.table, self.schemas[item.output]))
        # Every range writes both files, rows or not: a load's pattern must match a file.
        for output, schema in self.schemas.items():
            if output not in written:
                yield self._tagged(part, output, schema.empty_table())
        feed, name = self.contract.feed, work.source_file
        for metric, value in (
            ("rows_read", summary.rows_read),
            ("rows_valid", summary.rows_valid),
            ("rows_deadletter", summary.rows_deadletter),
        ):
            getattr(self, metric).inc(value)
            Metrics.counter(feed, f"{metric}/{name}").inc(value)
        yield beam.pvalue.TaggedOutput(self.SUMMARY_PARTS, (name, (work.file_range.index, summary)))

    def _tagged(self, part: str, output: str, table: pa.Table) -> Any:
        chunk = (part, outputs.Chunk(output, table))
        return chunk if output == outputs.VALID else beam.pvalue.TaggedOutput(self.DEADLETTER, chunk)


class MergeSummaries(beam.DoFn):
    """(file, [(range index, FileSummary)]) -> the file's summary line."""

    def __init__(self, feed: str):
        self.feed = feed
        self.files_rejected = Metrics.counter(feed, "files_rejected")

    def process(self, element: tuple[str, Iterable[tuple[int, FileSummary]]]) -> Iterable[dict[str, Any]]:
        source_file, parts = element
        summary = outputs.merge_summaries(self.feed, list(parts))
        if summary.file_error:
            self.files_rejected.inc()
        yield outputs.summary_row(summary, source_file)


@dataclass
class ValidatedBatch:
    valid: beam.PCollection  # Part: valid rows (outputs.valid_schema)
    deadletter: beam.PCollection  # Part: deadletter rows (outputs.deadletter_schema)
    summary: beam.PCollection  # dict per file (schemas.SUMMARY_FIELDS)


class ValidateBatch(beam.PTransform):
    """File pattern -> (valid rows, deadletter rows, per-file summaries)."""

    def __init__(self, contract: Contract, input_pattern: str, batch_id: str, ingested_at: str,
                 engine: str = "columnar", range_bytes: int = DEFAULT_RANGE_MB << 20,
                 block_size: int = BLOCK_SIZE, valid_schema: pa.Schema | None = None):
        super().__init__()
        self.valid_schema = valid_schema or outputs.valid_schema(contract)
        self.contract, self.input_pattern = contract, input_pattern
        self.batch_id, self.ingested_at = batch_id, ingested_at
        self.engine, self.block_size = engine, block_size
        self.range_bytes = range_bytes if engine == "columnar" else 0

    def expand(self, pbegin) -> ValidatedBatch:
        results = (
            pbegin
            | "MatchFiles" >> fileio.MatchFiles(self.input_pattern)
            | "ReadMatches" >> fileio.ReadMatches()
            | "PlanRanges" >> beam.ParDo(PlanRanges(self.contract, self.range_bytes, self.block_size))
            | "SpreadRanges" >> beam.Reshuffle()
            | "ValidateRange" >> beam.ParDo(
                ValidateRange(self.contract, self.batch_id, self.ingested_at, self.engine, self.block_size,
                              self.valid_schema)
            )
            .with_output_types(Part, **{ValidateRange.DEADLETTER: Part})
            .with_outputs(ValidateRange.DEADLETTER, ValidateRange.SUMMARY_PARTS, main="valid")
        )
        summary = (
            results[ValidateRange.SUMMARY_PARTS]
            | "GroupRanges" >> beam.GroupByKey()
            | "MergeSummaries" >> beam.ParDo(MergeSummaries(self.contract.feed))
        )
        return ValidatedBatch(results.valid, results[ValidateRange.DEADLETTER], summary)


class _PartFile:
    """One output file. The loads read ``part-*`` (naming.OUTPUT_FILES) and must never see a
    partial file: a GCS object is only there once its upload completes, so on GCS the file is
    written under its own name; a local file is written as ``tmp-<name>`` and renamed once
    complete. Either way the next launch of the job deletes what a killed one left
    (clear_outputs). On GCS a rename is a copy and a delete: two more requests per file, which
    were most of the job's time for a batch of many small files."""

    def __init__(self, folder: str, name: str, mime_type: str):
        self.path = folder + name
        whole_on_upload = self.path.startswith(OBJECT_STORES)
        self.written = self.path if whole_on_upload else folder + TEMPORARY + name
        self.handle = FileSystems.create(self.written, mime_type, CompressionTypes.UNCOMPRESSED)

    def commit(self) -> None:
        self.handle.close()
        if self.written != self.path:
            FileSystems.rename([self.written], [self.path])


# zstd's first fast level: 12% less writing time than its default (1) for 3% more bytes (1M
# bench rows: 219 -> 192 ms, 14.18 -> 14.65 MB, best of 6 interleaved; -2 gives 17.3 MB). Any
# level reads back the same.
ZSTD_LEVEL = -1


class WriteParts(beam.DoFn):
    """(part, chunk) -> ``<folder><part>.parquet`` of ``schema`` (stored_schemas; zstd at
    ZSTD_LEVEL), one row group per non-empty chunk. A part's chunks arrive together (the
    range's validation, fused with this step, yields them in a row), so a file is committed
    when the next part starts or the bundle ends; a retried bundle writes the same names again.

    Written here rather than by Beam's file sinks (WriteToParquet): those add ten stages to
    the job (write setup, grouping the shards, finalization) and with them about 0.5 s to
    every local run (a 1,000-row job with two workers: 1.0-1.5 s -> 0.5-0.7 s). No column
    statistics and dictionaries only for the dictionary arrays (repeated strings): BigQuery's
    load reads neither, and together they were 40% of pyarrow's default writing time. No
    Arrow schema either: the file says the plain types (outputs.stored_schema)."""

    def __init__(self, folder: str, schema: pa.Schema):
        self.folder, self.schema = folder, schema
        self.dictionary = [f.name for f in schema if pa.types.is_dictionary(f.type)]

    def start_bundle(self) -> None:
        self.part: str | None = None
        self.file: _PartFile | None = None
        self.writer: pq.ParquetWriter | None = None

    def process(self, element: tuple[str, outputs.Chunk]) -> None:
        part, chunk = element
        if part != self.part:
            self._commit()
            self.part, self.file = part, _PartFile(self.folder, part + ".parquet", "application/x-parquet")
            self.writer = pq.ParquetWriter(self.file.handle, self.schema, compression="zstd",
                                           compression_level=ZSTD_LEVEL, use_dictionary=self.dictionary,
                                           write_statistics=False, store_schema=False)
        if chunk.count:
            self.writer.write_table(chunk.table)

    def finish_bundle(self) -> None:
        self._commit()

    def _commit(self) -> None:
        if self.file is not None:
            self.writer.close()
            self.file.commit()
            self.part = self.file = self.writer = None


class WriteSummaries(beam.DoFn):
    """A file's summary row -> ``<folder>part-<file>.jsonl`` (one JSON line)."""

    def __init__(self, folder: str):
        self.folder = folder

    def process(self, row: dict[str, Any]) -> None:
        file = _PartFile(self.folder, file_part(row["source_file"]) + ".jsonl", "application/x-ndjson")
        file.handle.write((outputs.dumps(row) + "\n").encode("utf-8"))
        file.commit()


def file_part(source_file: str) -> str:
    """``part-<file's name, made safe>-<digest of the name>``: unique in a batch, readable."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", source_file)[:80]
    return f"part-{safe}-{hashlib.sha256(source_file.encode()).hexdigest()[:8]}"


def part_name(source_file: str, file_range: FileRange) -> str:
    """One range's files' name: the same in every attempt, so a retried bundle replaces its
    own files (the plan is the same for the same file and job options)."""
    return f"{file_part(source_file)}-{file_range.index:05d}-of-{file_range.count:05d}"


def stored_schemas(contract: Contract, valid_schema: pa.Schema) -> dict[str, pa.Schema]:
    """valid / deadletter -> the schema its chunks are written in (outputs.stored_schema: the
    feed's key and a deadletter row's text are the strings not worth a dictionary)."""
    return {
        outputs.VALID: outputs.stored_schema(valid_schema, contract.key),
        outputs.DEADLETTER: outputs.stored_schema(outputs.deadletter_schema(), ["raw_line"]),
    }


def clear_outputs(prefix: str) -> None:
    """Delete the three output folders' files: what a killed attempt of this job left there
    (committed parts, ``tmp-`` files) must not mix with this attempt's, whose range plan may
    differ (another machine's worker count)."""
    for output in tables.LOAD_OUTPUTS:  # the three output folders
        found = FileSystems.match([f"{prefix}{output}/*"])[0].metadata_list
        if found:
            FileSystems.delete([match.path for match in found])


def evolved_columns(contract: Contract, input_pattern: str) -> list[str]:
    """The columns the batch's files add (schema_drift evolve), from their headers: the valid
    output's Parquet schema is one per batch, fixed before the rows are read. A file whose
    header cannot be read or planned adds nothing (its summary rejects it)."""
    if contract.schema_drift.extra_columns != "evolve":
        return []
    added: set[str] = set()
    for match in FileSystems.match([input_pattern])[0].metadata_list:
        try:
            with _open(match.path) as stream:
                header = next(iter_records(stream), None)
                if header is not None:
                    added.update(plan_header(contract, header.fields).added)
        except FileRejected:
            continue
    return sorted(added)


def use_emulator_credentials() -> None:
    """Local runs only: talk to the GCS emulator anonymously.

    Beam otherwise retries Google's default-credentials lookup for about 30 s and then falls
    back to anonymous access anyway; STORAGE_EMULATOR_HOST is never set on Dataflow.
    """
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from apache_beam.internal.gcp import auth

        auth._Credentials._credentials_init = True
        auth._Credentials._credentials = None


def is_local(options: PipelineOptions) -> bool:
    """A run on this machine (DirectRunner, FnApiRunner or LocalRunner), not on Dataflow."""
    runner = options.view_as(StandardOptions).runner
    return runner is None or any(name in str(runner).lower() for name in ("direct", "fnapi", "local_runner"))


def input_bytes(pattern: str) -> int:
    """Bytes of the files the batch's pattern matches (0 when nothing matches: the job says so)."""
    try:
        return sum(m.size_in_bytes for result in FileSystems.match([pattern]) for m in result.metadata_list)
    except Exception:  # noqa: BLE001 - the pipeline's MatchFiles reports it
        return 0


def choose_local_workers(options: PipelineOptions, batch_bytes: int) -> int:
    """Local runs with ``--direct_num_workers=0`` (what the DAG's launch spec sends): one worker
    in the job's own process for a batch under PARALLEL_MIN_MB (workers would cost more than
    they save), else one forked worker process per core (LocalRunner). Sets the options and
    returns the worker count; any other value of --direct_num_workers is kept as given."""
    direct = options.view_as(DirectOptions)
    if not is_local(options) or direct.direct_num_workers != 0:
        return direct.direct_num_workers or os.cpu_count() or 1
    workers = (os.cpu_count() or 1) if batch_bytes >= PARALLEL_MIN_MB << 20 else 1
    direct.direct_num_workers = workers
    direct.direct_running_mode = "multi_processing" if workers > 1 else "in_memory"
    return workers


def range_mb(options: PipelineOptions) -> int:
    """--range_mb, or its default: ranges pay off only when several workers share a file."""
    configured = options.view_as(IngestOptions).range_mb
    if configured is not None:
        return configured
    single = options.view_as(DirectOptions).direct_num_workers == 1
    return 0 if is_local(options) and single else DEFAULT_RANGE_MB


def range_bytes(options: PipelineOptions, batch_bytes: int) -> int:
    """Bytes per range. Locally with N workers and no --range_mb: a batch's N-th part, so a
    single large file is cut into N ranges that Beam hands to N workers (FnApiRunner
    assigns a stage's elements to workers round-robin, with no stealing: equal ranges keep every
    worker busy until the end). Otherwise --range_mb (Dataflow: 128 MB ranges, many workers)."""
    mb = range_mb(options)
    direct = options.view_as(DirectOptions)
    workers = direct.direct_num_workers or os.cpu_count() or 1
    if options.view_as(IngestOptions).range_mb is None and is_local(options) and workers > 1:
        return max(MIN_LOCAL_RANGE_MB << 20, batch_bytes // workers)
    return mb << 20


def block_bytes(options: PipelineOptions) -> int:
    """--block_mb; locally with several worker processes, at most LOCAL_BLOCK_MB. A worker's
    memory grows by about 13 times its block (the block, its byte scans, its Arrow columns and
    their checks: 183 MB at 8 MB, 130 MB at 4 MB), so the job, its workers and Beam's ~230 MB
    of modules in each stay under 1 GB with 2 workers (README), at no measurable cost in
    throughput."""
    mb = max(1, options.view_as(IngestOptions).block_mb)
    if is_local(options) and options.view_as(DirectOptions).direct_num_workers > 1:
        mb = min(mb, LOCAL_BLOCK_MB)
    return mb << 20


def build(pipeline: beam.Pipeline, contract: Contract, options: PipelineOptions,
          batch_bytes: int = 0) -> ValidatedBatch:
    """The job's graph on ``pipeline``: validate, then write the three outputs. ``batch_bytes``
    (the input's size) sizes the ranges of local multi-worker runs."""
    ingest = options.view_as(IngestOptions)
    out = ingest.output_prefix.rstrip("/") + "/"
    valid_schema = outputs.valid_schema(contract, evolved_columns(contract, ingest.input))
    results = pipeline | "Validate" >> ValidateBatch(
        contract, ingest.input, ingest.batch_id, ingest.ingested_at, ingest.engine,
        range_bytes=range_bytes(options, batch_bytes), block_size=block_bytes(options),
        valid_schema=valid_schema,
    )
    schemas = stored_schemas(contract, valid_schema)
    results.valid | "WriteValid" >> beam.ParDo(WriteParts(out + "valid/", schemas[outputs.VALID]))
    results.deadletter | "WriteDeadletter" >> beam.ParDo(WriteParts(out + "deadletter/", schemas[outputs.DEADLETTER]))
    results.summary | "WriteSummary" >> beam.ParDo(WriteSummaries(out + "summary/"))
    return results


def run(argv: list[str] | None = None) -> beam.runners.runner.PipelineResult:
    options = PipelineOptions(argv)
    options.view_as(SetupOptions).save_main_session = False
    ingest = options.view_as(IngestOptions)
    missing = [f"--{name}" for name in REQUIRED if not getattr(ingest, name)]
    if missing:
        raise ValueError(f"missing required options: {', '.join(missing)}")
    use_emulator_credentials()
    logging.info("Apache Beam %s", beam.__version__)  # the operator's own version probe is skipped (beam-python)
    contract = read_contract(ingest.contract)
    if contract.feed != ingest.feed:
        raise ValueError(f"--feed {ingest.feed!r} but {ingest.contract} describes {contract.feed!r}")
    batch_bytes = input_bytes(ingest.input) if is_local(options) else 0
    workers = choose_local_workers(options, batch_bytes)
    logging.getLogger(__name__).info("batch of %d bytes, %d worker(s)", batch_bytes, workers)
    clear_outputs(ingest.output_prefix.rstrip("/") + "/")
    with beam.Pipeline(options=options) as pipeline:
        build(pipeline, contract, options, batch_bytes)
    return pipeline.result


if __name__ == "__main__":
    logging.getLogger().setLevel(logging.INFO)
    run()
