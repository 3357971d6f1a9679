"""Columnar validation: the fast path, with exactly the outputs of the row-by-row reference.

Per-row Python work is what an ingestion job pays for, so this package validates a feed file in
blocks of records with numpy and Arrow, and hands every record it cannot decide on its own to
the reference (:mod:`feedline.validate.reference`: :mod:`feedline.validate.csvio` +
:func:`feedline.validate.rules.validate_record`). The two
paths produce the same valid rows (same typed values), the same deadletter rows (same raw bytes,
line number and reason) and the same per-file summary; tests check this on generated files,
on the csv-spectrum suite and on every input quirk below. Imports contract and validate only,
never Airflow or Beam.

Modules, in the order a file goes through them:

- ``blocks``: the byte stream as record-aligned :class:`RecordBlock` s (steps 1 and 2 below);
- ``ranges``: :class:`FileRange`, record-aligned ranges of one large plain file;
- ``arrow``: Arrow <-> numpy helpers without pandas;
- ``civil``: vectorized calendar arithmetic;
- ``checks``: one column of a block checked and typed as Arrow arrays (step 3);
- ``validator``: the facts of a block and :class:`ColumnarValidator` (steps 3 and 4).

How a file is read:

1. The (decompressed) byte stream is read in blocks of ``block_size`` bytes. A block is cut at
   the last record boundary found by tracking quote state (numpy: positions of ``"``, CR, LF),
   so a quoted newline never splits a record; the rest is carried into the next block.
   Physical line numbers are counted alongside (LF, CRLF and lone CR each end a line).
2. Quote state from quote parity is exact only while quoting is well-formed: every opening
   quote starts a field, every closing quote ends one. The first quote that breaks that rule
   ("odd quoting": ``ab"c``, ``"ab"c``, an unclosed quote) hands its record to Python's csv
   module, exactly as the reference reads it; the scan resumes after that record. Records
   longer than ``csvio.FIELD_SIZE_LIMIT`` bytes also go to csv, which enforces the limit.
3. Records with no NUL byte, valid UTF-8 and ordinary quoting are parsed by Arrow's CSV
   reader, which skips (and numbers) those with another field count than the header's: the
   reference's "wrong number of fields". Every column is trimmed of what ``str.strip()`` trims
   and checked with Arrow compute kernels. A check accepts only what the reference certainly
   accepts, and rejects only what it certainly rejects, with the reference's reason (a missing
   or too long value, a value not allowed, a malformed email, NUMERIC, DATE or TIMESTAMP, a
   date or time that does not exist); a row's first failing column gives its reason. The
   rest (odd values a kernel cannot decide) is validated row by row by the reference.
4. Valid rows leave as an Arrow table of the output schema (:func:`feedline.validate.outputs.valid_schema`:
   NUMERIC decimal128(38, 9), TIMESTAMP microseconds UTC, DATE date32), the values the reference
   gives as Python objects, computed by kernels and numpy.

Input quirks and their outcomes (the reference's decisions, shared by both paths; tests in
tests/unit/beam_job/test_quirks.py):

- UTF-8 BOM: dropped at the start of the (decompressed) file only.
- CRLF, LF, lone CR and mixed line ends: each ends a line and, outside quotes, a record.
- Quoted newlines and escaped quotes (``""``): part of the value; the record keeps its first
  line's number.
- Blank lines (anywhere, trailing too): not records, not counted; line numbers still count them.
- A row with more or fewer fields than the header: deadletter "wrong number of fields: expected N".
- Header: columns matched by name in any order; a duplicate name rejects the file ("header has
  duplicate column names: ..."), a missing or unexpected one too ("header does not match ...")
  unless the contract's schema_drift ignores, evolves or nulls it (``feedline.validate.header``:
  both paths validate against the plan's contract).
- Bytes that are not UTF-8: deadletter "not valid UTF-8"; ``raw_line`` shows them as ``\\xNN``,
  ``raw_bytes`` keeps them as they are (every deadletter row has its record's exact bytes).
- NUL bytes: deadletter "contains a NUL byte".
- A value longer than its column's ``max_length``: deadletter "<column>: longer than N
  characters"; a field longer than ``FIELD_SIZE_LIMIT`` (a runaway quote) rejects the file.
- Leading/trailing whitespace (what ``str.strip()`` removes) is trimmed; an empty field, quoted
  (``""``) or not, is NULL ("<column>: required value is missing" if required).
- NUMERIC with thousands separators or an exponent: deadletter "not a plain decimal NUMERIC".
- TIMESTAMP with a zone is converted to UTC, without one is read as UTC; DATE 2026-02-30:
  deadletter "date does not exist".
- gzip (by magic bytes): a truncated or corrupt stream rejects the file ("unreadable compressed
  file at line N: ...") after the rows before the break, as the reference does.
- Empty file: rejected ("empty file: no header"); header only: accepted with zero rows.
"""

from __future__ import annotations

from feedline.validate.columnar.blocks import BLOCK_SIZE, RecordBlock, iter_blocks
from feedline.validate.columnar.checks import ASCII_WHITESPACE, PY_WHITESPACE, check_column
from feedline.validate.columnar.ranges import WHOLE_FILE, FileRange, open_range, plan_ranges
from feedline.validate.columnar.validator import ColumnarValidator

__all__ = [
    "ASCII_WHITESPACE",
    "BLOCK_SIZE",
    "PY_WHITESPACE",
    "WHOLE_FILE",
    "ColumnarValidator",
    "FileRange",
    "RecordBlock",
    "check_column",
    "iter_blocks",
    "open_range",
    "plan_ranges",
]
