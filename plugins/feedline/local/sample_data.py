"""Deterministic sample files for the customers and transactions feeds.

The same seed always gives the same bytes. A controlled share of rows is bad in the ways real
exports go bad (a missing key, a malformed email, a country or currency outside its list, a
date that does not exist, an amount with a thousands separator, a short row...), and some good
rows carry CSV quirks that must parse (quoted commas, quotes and newlines inside fields).
"""

from __future__ import annotations

import csv
import gzip
import io
import random
from datetime import date, datetime, timedelta, timezone
from typing import Callable

FIRST = ["Ana", "Ben", "Chloé", "Dmitri", "Eve", "Femi", "Grace", "Hiro", "Inès", "Jonas", "Kofi", "Lena"]
LAST = ["Smith", "O'Brien", "Müller", "García", "Nguyen", "Okafor", "Rossi", "Tanaka", "Dubois", "Kowalski"]
COUNTRIES = ["US", "GB", "DE", "FR", "ES", "IT", "NL", "PL", "JP", "BR", "IN", "NG"]
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "PLN", "INR", "BRL"]
STATUSES = ["pending", "settled", "settled", "settled", "refunded", "failed"]

CUSTOMER_HEADER = ["customer_id", "email", "full_name", "country", "signup_date", "updated_at"]
TRANSACTION_HEADER = ["transaction_id", "customer_id", "amount", "currency", "status", "transaction_ts"]


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def customer_row(rng: random.Random, index: int, day: date) -> list[str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    name = f"{last}, {first}" if rng.random() < 0.2 else f"{first} {last}"  # quoted comma
    if rng.random() < 0.03:
        name = f'{first} "{rng.choice(["Jr", "the Great"])}" {last}'  # escaped quotes
    signup = day - timedelta(days=rng.randint(0, 900))
    updated = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(seconds=rng.randint(0, 86399))
    local = f"{first}.{last}".lower().replace("'", "").replace("é", "e").replace("ü", "u").replace("è", "e")
    return [f"C{index:06d}", f"{local}{index}@example.com", name, rng.choice(COUNTRIES), signup.isoformat(), _ts(updated)]


def transaction_row(rng: random.Random, index: int, day: date, customers: int) -> list[str]:
    moment = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(seconds=rng.randint(0, 86399))
    amount = f"{rng.randint(1, 250000) / 100:.2f}"
    return [
        f"T{day:%Y%m%d}{index:07d}",
        f"C{rng.randint(1, customers):06d}",
        amount,
        rng.choice(CURRENCIES),
        rng.choice(STATUSES),
        _ts(moment),
    ]


# Each breaks one field the way real exports do; the contract must deadletter it.
CUSTOMER_DEFECTS: list[Callable[[list[str]], list[str]]] = [
    lambda r: ["", *r[1:]],  # missing key
    lambda r: [r[0], r[1].replace("@", " at "), *r[2:]],  # malformed email
    lambda r: [*r[:3], "XX", *r[4:]],  # unknown country
    lambda r: [*r[:4], "2026-02-30", r[5]],  # date that does not exist
    lambda r: [*r[:5], "yesterday"],  # unparseable timestamp
    lambda r: r[:4],  # short row
]
TRANSACTION_DEFECTS: list[Callable[[list[str]], list[str]]] = [
    lambda r: [r[0], "", *r[2:]],  # missing customer
    lambda r: [*r[:2], "1,234.50", *r[3:]],  # thousands separator
    lambda r: [*r[:3], "XYZ", *r[4:]],  # unknown currency
    lambda r: [*r[:4], "lost", r[5]],  # unknown status
    lambda r: [*r[:5], "2026-13-01T00:00:00Z"],  # impossible timestamp
    lambda r: [*r, "extra"],  # extra field
]


# The feeds this module can make files for (a new contract needs its generator here).
GENERATED_FEEDS = ("customers", "transactions")


def generate(
    feed: str, rows: int, bad_share: float, seed: int, day: date, customers: int = 500, first_index: int = 1
) -> bytes:
    """A whole CSV file (header + rows, CRLF line ends) as bytes. Keys count up from
    ``first_index``, so files made with disjoint ranges share no key."""
    if feed not in GENERATED_FEEDS:
        raise LookupError(
            f"no sample generator for the feed {feed!r} (feedline.local.sample_data makes "
            f"{', '.join(GENERATED_FEEDS)})"
        )
    rng = random.Random(f"{feed}:{seed}:{day.isoformat()}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    header, defects = (
        (CUSTOMER_HEADER, CUSTOMER_DEFECTS) if feed == "customers" else (TRANSACTION_HEADER, TRANSACTION_DEFECTS)
    )
    writer.writerow(header)
    for index in range(first_index, first_index + rows):
        row = (
            customer_row(rng, index, day)
            if feed == "customers"
            else transaction_row(rng, index, day, customers)
        )
        if feed == "customers" and rng.random() < 0.01:
            row[2] = row[2] + "\nc/o Accounts"  # newline inside a quoted field
        if rng.random() < bad_share:
            row = rng.choice(defects)(row)
        writer.writerow(row)
    return out.getvalue().encode("utf-8")


# Whole files that cannot be ingested; each must be quarantined with its reason, no row loaded.
BAD_FILE_KINDS = ("wrong header", "truncated gzip", "empty")


def bad_file(kind: str, good: bytes) -> bytes:
    """A broken copy of a generated file ``good``: its first header name changed (the contract's
    header check rejects it), its gzip cut in half (the reader fails part-way, after rows it
    could read), or no bytes at all."""
    if kind == "wrong header":
        first = good.split(b",", 1)[0]
        return b"record_id" + good[len(first):]
    if kind == "truncated gzip":
        packed = gzip.compress(good, compresslevel=1)
        return packed[: len(packed) // 2]
    if kind == "empty":
        return b""
    raise LookupError(f"unknown bad file kind {kind!r} (one of {', '.join(BAD_FILE_KINDS)})")
