"""Claiming and settling files on the GCS emulator: exactly-once claims, retries, re-runs,
quarantine with reasons and backfills from the archive."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from feedline.storage import claims
from feedline.contract import naming
from support import reset


@pytest.fixture
def landing(settings, contracts, gcs):
    reset(settings, contracts)
    bucket = gcs.bucket(settings.landing_bucket)
    for name in ("customers/customers_20261125.csv", "customers/customers_20261126_b.csv",
                 "customers/notes.txt", "transactions/transactions_20261125.csv"):
        bucket.blob(name).upload_from_string(f"content of {name}\n")
    return bucket


def names(gcs, bucket: str, prefix: str = "") -> list[str]:
    return sorted(b.name for b in gcs.list_blobs(bucket, prefix=prefix))


def test_claim_moves_matching_files_and_quarantines_misnamed(landing, gcs, settings, contracts):
    contract = contracts["customers"]
    claim = claims.claim_files(gcs, settings, contract, "b1")
    assert [f.name for f in claim.files] == ["customers_20261125.csv", "customers_20261126_b.csv"]
    assert [f.file_date for f in claim.files] == ["20261125", "20261126"]
    assert list(claim.misnamed) == ["customers/notes.txt"]
    assert names(gcs, settings.landing_bucket) == [
        "processing/customers/b1/customers_20261125.csv",
        "processing/customers/b1/customers_20261126_b.csv",
        "transactions/transactions_20261125.csv",  # other feeds are not touched
    ]
    quarantined = gcs.bucket(settings.quarantine_bucket).get_blob("customers/b1/notes.txt")
    assert "does not match the customers contract pattern" in quarantined.metadata[claims.REASON_KEY]
    # a retried claim task returns the same files and moves nothing
    assert claims.claim_files(gcs, settings, contract, "b1").files == claim.files


def test_only_named_files_and_dates(landing, gcs, settings, contracts):
    contract = contracts["customers"]
    claim = claims.claim_files(gcs, settings, contract, "b1", only_files=["customers/customers_20261126_b.csv"])
    assert [f.name for f in claim.files] == ["customers_20261126_b.csv"]
    claim = claims.claim_files(gcs, settings, contract, "b2", file_date="20261125")
    assert [f.name for f in claim.files] == ["customers_20261125.csv"]


def test_racing_claims_take_each_file_once(landing, gcs, settings, contracts):
    contract = contracts["customers"]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda b: claims.claim_files(gcs, settings, contract, b), ["r1", "r2", "r3", "r4"]))
    claimed = sorted(f.name for c in results for f in c.files)
    assert claimed == ["customers_20261125.csv", "customers_20261126_b.csv"]
    assert names(gcs, settings.landing_bucket, "processing/") == sorted(
        f.object for c in results for f in c.files
    )


def test_settle_archives_quarantines_and_a_rerun_takes_the_files_back(landing, gcs, settings, contracts):
    contract = contracts["customers"]
    claim = claims.claim_files(gcs, settings, contract, "b1")
    places = claims.settle_files(gcs, settings, contract, claim, {"customers_20261126_b.csv": "header does not match"})
    assert places == {
        "customers_20261125.csv": f"gs://{settings.archive_bucket}/customers/date=20261125/b1/customers_20261125.csv",
        "customers_20261126_b.csv": f"gs://{settings.quarantine_bucket}/customers/b1/customers_20261126_b.csv",
    }
    assert names(gcs, settings.landing_bucket, "processing/") == []
    blob = gcs.bucket(settings.quarantine_bucket).get_blob("customers/b1/customers_20261126_b.csv")
    assert blob.metadata[claims.REASON_KEY] == "header does not match"
    # settling again (a retried task) changes nothing
    assert claims.settle_files(gcs, settings, contract, claim, {"customers_20261126_b.csv": "header does not match"}) == places

    # the DAG run is cleared and runs again: the same files come back, from where they went
    rerun = claims.claim_files(gcs, settings, contract, "b1")
    assert [(f.name, f.origin) for f in rerun.files] == [
        ("customers_20261125.csv", "rerun"), ("customers_20261126_b.csv", "rerun")]
    # this time both are accepted: the quarantined copy moves to the archive
    claims.settle_files(gcs, settings, contract, rerun, {})
    assert names(gcs, settings.quarantine_bucket, "customers/b1/") == ["customers/b1/notes.txt"]
    assert names(gcs, settings.archive_bucket) == [
        "customers/date=20261125/b1/customers_20261125.csv",
        "customers/date=20261126/b1/customers_20261126_b.csv",
    ]


def test_backfill_copies_the_latest_archived_files_of_a_date(landing, gcs, settings, contracts):
    contract = contracts["customers"]
    archive = gcs.bucket(settings.archive_bucket)
    archive.blob(naming.archive_name("customers", "20261125", "old", "customers_20261125.csv")).upload_from_string("v1")
    archive.blob(naming.archive_name("customers", "20261125", "new", "customers_20261125.csv")).upload_from_string("v2")
    archive.blob(naming.archive_name("customers", "20261126", "new", "customers_20261126.csv")).upload_from_string("x")
    claim = claims.claim_files(gcs, settings, contract, "bf", file_date="20261125", from_archive=True)
    assert [(f.name, f.origin) for f in claim.files] == [("customers_20261125.csv", "archive")]
    copy = gcs.bucket(settings.landing_bucket).blob(claim.files[0].object)
    assert copy.download_as_text() == "v2"
    claims.settle_files(gcs, settings, contract, claim, {})
    assert len(names(gcs, settings.archive_bucket)) == 3  # the archive keeps what it had, no copy added
    assert names(gcs, settings.landing_bucket, "processing/") == []
    with pytest.raises(ValueError, match="needs a file date"):
        claims.claim_files(gcs, settings, contract, "bf2", from_archive=True)


def test_feedline_drop_uploads_under_the_feed_prefix(settings, contracts, gcs, tmp_path, capsys):
    from feedline import cli

    reset(settings, contracts)
    sample = tmp_path / "transactions_20261125_manual.csv"
    sample.write_text("transaction_id\n")
    assert cli.main(["drop", str(sample)]) == 0
    assert names(gcs, settings.landing_bucket) == ["transactions/transactions_20261125_manual.csv"]
    assert "dropped gs://feedline-landing/transactions/" in capsys.readouterr().out
    unknown = tmp_path / "orders_20261125.csv"
    unknown.write_text("x\n")
    assert cli.main(["drop", str(unknown)]) == 2
    assert cli.main(["drop", str(unknown), "--feed", "customers"]) == 0
    assert "customers/orders_20261125.csv" in names(gcs, settings.landing_bucket)


def test_a_run_asking_for_files_another_batch_took_learns_which_batch(landing, gcs, settings, contracts):
    contract = contracts["customers"]
    sweep = claims.claim_files(gcs, settings, contract, "sweep")  # takes both customers files
    claims.settle_files(gcs, settings, contract, sweep, {"customers_20261126_b.csv": "bad header"})
    landing.blob("customers/customers_20261127.csv").upload_from_string("x\n")
    claims.claim_files(gcs, settings, contract, "running", file_date="20261127")  # claimed, not settled

    asked = ["customers/customers_20261125.csv", "customers_20261126_b.csv", "customers_20261127.csv",
             "customers_20261128.csv", "notes.txt"]
    event = claims.claim_files(gcs, settings, contract, "event", only_files=asked)
    assert event.files == []
    assert event.taken == {
        "customers_20261125.csv": [f"gs://{settings.archive_bucket}/customers/date=20261125/sweep/customers_20261125.csv"],
        "customers_20261126_b.csv": [f"gs://{settings.quarantine_bucket}/customers/sweep/customers_20261126_b.csv"],
        "customers_20261127.csv": [f"gs://{settings.landing_bucket}/processing/customers/running/customers_20261127.csv"],
        "customers_20261128.csv": [],
        "notes.txt": [f"gs://{settings.quarantine_bucket}/customers/sweep/notes.txt"],
    }
    assert event.taken_batches() == {"customers_20261125.csv": ["sweep"], "customers_20261126_b.csv": ["sweep"],
                                     "customers_20261127.csv": ["running"], "customers_20261128.csv": [],
                                     "notes.txt": ["sweep"]}
    assert claims.Claim.from_xcom(event.to_xcom()) == event

    # a file still in landing is claimed; only the missing one is reported
    landing.blob("customers/customers_20261129.csv").upload_from_string("y\n")
    mixed = claims.claim_files(gcs, settings, contract, "event2", only_files=["customers_20261129.csv",
                                                                             "customers_20261125.csv"])
    assert [f.name for f in mixed.files] == ["customers_20261129.csv"]
    assert mixed.taken_batches() == {"customers_20261125.csv": ["sweep"]}
    # a retried claim of the batch reports the same and never names itself
    assert claims.claim_files(gcs, settings, contract, "event2", only_files=["customers_20261129.csv",
                                                                             "customers_20261125.csv"]).taken == mixed.taken


def test_objects_sharing_a_base_name_are_all_quarantined_by_path_and_a_lone_sub_folder_file_is_claimed(
    landing, gcs, settings, contracts
):
    contract = contracts["customers"]
    for name, text in (("customers/a/customers_20261127_same.csv", "from a\n"),
                       ("customers/b/customers_20261127_same.csv", "from b\n"),
                       ("customers/sub/customers_20261128.csv", "alone\n")):
        landing.blob(name).upload_from_string(text)
    claim = claims.claim_files(gcs, settings, contract, "b1")
    assert [f.name for f in claim.files] == ["customers_20261125.csv", "customers_20261126_b.csv", "customers_20261128.csv"]
    same = ["customers/a/customers_20261127_same.csv", "customers/b/customers_20261127_same.csv"]
    assert sorted(claim.misnamed) == [*same, "customers/notes.txt"]
    for obj in same:
        assert all(repr(o) in claim.misnamed[obj] for o in same) and "share the file name" in claim.misnamed[obj]
    # each colliding object whole, under its own path, with its reason and its landing name
    held = {b.name: b for b in gcs.list_blobs(settings.quarantine_bucket)}
    assert sorted(held) == ["customers/b1/a/customers_20261127_same.csv", "customers/b1/b/customers_20261127_same.csv",
                            "customers/b1/notes.txt"]
    assert gcs.bucket(settings.quarantine_bucket).blob("customers/b1/b/customers_20261127_same.csv").download_as_text() == "from b\n"
    assert held["customers/b1/a/customers_20261127_same.csv"].metadata[claims.LANDING_KEY] == same[0]
    assert names(gcs, settings.landing_bucket, "customers/") == []
    # a retried claim task: the same files and quarantined objects (for their audit rows), nothing moved again
    again = claims.claim_files(gcs, settings, contract, "b1")
    assert again.files == claim.files and again.misnamed == claim.misnamed
    assert sorted(b.name for b in gcs.list_blobs(settings.quarantine_bucket)) == sorted(held)


def test_no_copy_overwrites_an_object(landing, gcs, settings, contracts):
    contract = contracts["customers"]
    claim = claims.claim_files(gcs, settings, contract, "b3")
    taken = gcs.bucket(settings.quarantine_bucket).blob("customers/b3/customers_20261126_b.csv")
    taken.upload_from_string("someone else's object")
    with pytest.raises(claims.NameClash, match="already exists: not overwritten"):
        claims.settle_files(gcs, settings, contract, claim, {"customers_20261126_b.csv": "bad header"})
    assert taken.download_as_text() == "someone else's object"
    assert "processing/customers/b3/customers_20261126_b.csv" in names(gcs, settings.landing_bucket)  # still held


def test_a_settle_retried_after_its_copy_but_before_the_delete_completes(landing, gcs, settings, contracts):
    """A fault between copy and delete (GCS gone half way): the retry finds its own copy, the
    same bytes, and goes on; only a different object at the destination is a clash."""
    contract = contracts["customers"]
    claim = claims.claim_files(gcs, settings, contract, "b4")
    first = next(f for f in claim.files if f.name == "customers_20261126_b.csv")
    dest = naming.archive_name("customers", first.file_date, "b4", first.name)
    source = gcs.bucket(settings.landing_bucket).blob(first.object)
    gcs.bucket(settings.landing_bucket).copy_blob(source, gcs.bucket(settings.archive_bucket), dest)  # the first try's copy

    places = claims.settle_files(gcs, settings, contract, claim, {})
    assert places[first.name] == f"gs://{settings.archive_bucket}/{dest}"
    assert not [n for n in names(gcs, settings.landing_bucket) if n.startswith("processing/customers/b4/")]
    assert names(gcs, settings.archive_bucket).count(dest) == 1


def test_the_emulator_ignores_generation_preconditions(landing, gcs, settings):
    """Why claims._copy_new looks for the destination before its if_generation_match=0 copy:
    GCS refuses that copy onto an existing object (412), the local emulator overwrites. When
    this fails, the emulator honours preconditions and the look-first can go."""
    source, dest = landing.blob("customers/customers_20261125.csv"), "customers/customers_20261126_b.csv"
    landing.copy_blob(source, landing, dest, if_generation_match=0)
    assert landing.blob(dest).download_as_text() == "content of customers/customers_20261125.csv\n"
