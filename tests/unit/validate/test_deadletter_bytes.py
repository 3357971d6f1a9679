"""Every deadletter row keeps its record's exact bytes (``raw_bytes``, BYTES in the Parquet output),
through both engines: the rejected lines of a file can be rebuilt byte for byte, where
``raw_line`` (readable, ``\\xNN`` for bytes that are not UTF-8) cannot tell a latin-1 é from
the text backslash-x-e-9."""

from __future__ import annotations

import gzip
import random

import pytest

from engines import EVERYTHING, EVERYTHING_HEADER, both_paths

GOOD = b"A1,Ann,ann@example.com,GB,ABC,12.50,3,0.5,true,2026-11-25,2026-11-25T10:00:00Z"
HEADER = EVERYTHING_HEADER.encode()


def good(i: int) -> bytes:
    return GOOD.replace(b"A1", b"G%d" % i, 1)


def bad_qty(name: bytes, eol: bytes = b"\n") -> bytes:
    """A record that fails on qty (not an integer) whatever its name holds; name is put in quotes
    when it needs them."""
    field = b'"' + name.replace(b'"', b'""') + b'"' if any(c in name for c in b',"\r\n') else name
    return GOOD.replace(b",Ann,", b"," + field + b",").replace(b",3,", b",three,") + eol


def rejected_bytes(out) -> list[bytes]:
    """The deadletter rows' raw_bytes, decoded, in line order."""
    return [row["raw_bytes"] for row in out.deadletter_rows]


def file_of(records: list[bytes]) -> bytes:
    return HEADER + b"\n" + b"".join(records)


CASES = {
    "latin-1 é": b"Ren\xe9e",
    "a lone continuation byte": b"a\x80b",
    "a truncated sequence": b"euro \xe2\x82",
    "an overlong encoding": b"\xc0\xaf",
    "an encoded surrogate": b"\xed\xa0\x80",
    "0xff 0xfe": b"\xff\xfe",
    "valid UTF-8 and emoji": "é😀".encode(),
    "NUL bytes": b"A\x00nn\x00",
    "CRLF inside quotes": b"two\r\nlines",
    "LF and lone CR inside quotes": b"one\ntwo\rthree",
    "the text backslash-x-e-9": b"Ren\\xe9e",
    "quotes and commas": b'say "hi", then',
}


@pytest.mark.parametrize("name", list(CASES.values()), ids=list(CASES))
@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_a_rejected_records_raw_bytes_are_its_bytes_in_the_file(name, eol):
    bad = bad_qty(name, eol)
    out = both_paths(EVERYTHING, file_of([good(1) + eol, bad, good(2) + eol]))
    assert len(out.deadletter_rows) == 1 and out.summary.rows_valid == 2
    assert rejected_bytes(out) == [bad]


def test_a_latin1_e_acute_and_the_text_backslash_x_e9_read_alike_but_keep_their_own_bytes():
    latin1, text = bad_qty(b"Ren\xe9e"), bad_qty(b"Ren\\xe9e")
    out = both_paths(EVERYTHING, file_of([latin1, text]))
    first, second = out.deadletter_rows
    assert first["raw_line"] == second["raw_line"]  # why raw_line alone cannot rebuild a file
    assert rejected_bytes(out) == [latin1, text]
    assert (first["reason"], second["reason"]) == ("not valid UTF-8", "qty: not an INT64")


def test_the_last_record_without_a_line_end_keeps_exactly_its_bytes():
    bad = bad_qty(b"Ren\xe9e", b"")
    out = both_paths(EVERYTHING, file_of([good(1) + b"\n", bad]))
    assert rejected_bytes(out) == [bad]


def test_in_a_gzip_file_the_raw_bytes_are_the_decompressed_records():
    bad = bad_qty(b"Ren\xe9e\x00", b"\r\n")
    out = both_paths(EVERYTHING, gzip.compress(file_of([good(1) + b"\n", bad])))
    assert rejected_bytes(out) == [bad]


def test_the_rejected_records_concatenated_in_line_order_are_the_bad_lines_of_the_file():
    records, bad = [], []
    for i, name in enumerate(CASES.values()):
        records.append(good(i) + b"\n")
        eol = (b"\n", b"\r\n", b"\r")[i % 3]
        bad.append(bad_qty(name, eol))
        records.append(bad[-1])
    out = both_paths(EVERYTHING, file_of(records))
    assert out.summary.rows_deadletter == len(bad)
    assert b"".join(rejected_bytes(out)) == b"".join(bad)


# No line ends: those come between lines, and inside quotes when a line has an odd number of them.
ALPHABET = [b"a", b"1", b",", b'"', b'""', b"\x00", b"\xe9", b"\xc3\xa9", b"\\x", b" ", b"\xff", b"\xe2\x82"]


@pytest.mark.parametrize("seed", range(6))
def test_a_file_of_random_bad_lines_is_its_header_plus_its_deadletter_bytes(seed):
    """Every physical line starts with NUL, so every record is rejected and no line is blank
    (blank lines are not records: a file with some cannot be rebuilt from its records alone)."""
    rng = random.Random(seed)
    body = b"".join(
        b"\x00" + b"".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 30))) + rng.choice([b"\n", b"\r\n", b"\r"])
        for _ in range(80)
    )
    data = HEADER + b"\n" + body
    out = both_paths(EVERYTHING, data)
    assert out.summary.file_error is None and out.summary.rows_valid == 0 and out.summary.rows_deadletter > 1
    assert HEADER + b"\n" + b"".join(rejected_bytes(out)) == data
