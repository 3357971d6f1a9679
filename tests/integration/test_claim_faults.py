"""Faults at the claim and the settle, on the GCS emulator with the real claim functions: the
emulator SIGKILLed half way, two claims made to meet at a barrier, a file overwritten while it
is claimed. A hook (claims._copy_new wrapped, every call still reaching the emulator) puts each
fault exactly where it hurts, instead of hoping for timing. Each case ends with the buckets as a
fault-free claim (and settle) of the same files leaves them.

A whole DAG run adds nothing here: a claim or settle task's retry calls the same function again
(tasks.claim_files, tasks.settle_files). The same file dropped again under its name and under a
new name is shown through whole runs by
integration/test_dag_runs.py::test_repeated_files_are_archived_as_duplicates_and_validated_again_only_when_forced.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from feedline.contract import naming
from feedline.local import stack
from feedline.storage import claims
from support import kill, reset

FILES = {
    "customers/customers_20261125.csv": b"customer_id\n1\n",
    "customers/customers_20261126_b.csv": b"customer_id\n2\n",
    "customers/customers_20261127_c.csv": b"customer_id\n3\n",
    "customers/notes.txt": b"not a feed file\n",  # quarantined by the claim
}
REJECTED = {"customers_20261126_b.csv": "header does not match"}  # quarantined by the settle


@pytest.fixture
def landing(settings, contracts, gcs):
    reset(settings, contracts)
    bucket = gcs.bucket(settings.landing_bucket)
    for name, data in FILES.items():
        bucket.blob(name).upload_from_string(data)
    return bucket


def buckets(gcs, settings) -> dict[str, list[tuple]]:
    """Every object of the four buckets: name, content digest and Feedline's metadata."""
    state = {}
    for bucket in (settings.landing_bucket, settings.archive_bucket, settings.quarantine_bucket):
        state[bucket] = sorted(
            (b.name, b.md5_hash, json.dumps(b.metadata or {}, sort_keys=True)) for b in gcs.list_blobs(bucket)
        )
    manifests = {b.name: json.loads(b.download_as_bytes()) for b in gcs.list_blobs(settings.work_bucket, prefix="claims/")}
    state["manifests"] = sorted(manifests.items())
    return state


@pytest.fixture(scope="module")
def clean_claim(local_stack, contracts):
    """A fault-free claim and settle of FILES by batch b1: (claim, places, buckets)."""
    from feedline.local.provision import storage_client
    from feedline.settings import from_env

    settings = from_env()
    gcs = storage_client(settings.project)
    reset(settings, contracts)
    for name, data in FILES.items():
        gcs.bucket(settings.landing_bucket).blob(name).upload_from_string(data)
    contract = contracts["customers"]
    claim = claims.claim_files(gcs, settings, contract, "b1")
    claimed = buckets(gcs, settings)
    places = claims.settle_files(gcs, settings, contract, claim, REJECTED)
    return claim, claimed, places, buckets(gcs, settings)


class Outage(Exception):
    """The call the claim was making when GCS died (raised by the real client)."""


def copy_hook(monkeypatch, after_copy=None, before_copy=None):
    """Run ``before_copy(n, source, dest_name)`` / ``after_copy(n, source, dest_name)`` around
    the n-th copy a claim or settle makes (n from 1), the copy itself unchanged."""
    original, calls = claims._copy_new, []

    def hooked(client, source, dest_bucket, dest_name, **precondition):
        calls.append(dest_name)
        if before_copy:
            before_copy(len(calls), source, dest_name)
        copy = original(client, source, dest_bucket, dest_name, **precondition)
        if after_copy:
            after_copy(len(calls), source, dest_name)
        return copy

    monkeypatch.setattr(claims, "_copy_new", hooked)
    return calls


def gcs_dies(local_stack, settings, gcs) -> None:
    """SIGKILL the GCS emulator, then make the next call as the claim would: it fails for real.
    (The client's own retries would hold it up to 120 s first and end the same way.)"""
    kill(local_stack, "gcs")
    try:
        gcs.bucket(settings.landing_bucket).blob("any").exists(retry=None, timeout=5)
    except requests.exceptions.ConnectionError as exc:
        raise Outage(str(exc)) from exc
    raise AssertionError("GCS still answers after its kill")


def test_gcs_killed_in_the_middle_of_a_claim_the_retried_claim_finishes_it(
    landing, clean_claim, local_stack, gcs, settings, contracts, monkeypatch
):
    """Killed after the misnamed object's quarantine, the first file's move and the second
    file's copy (before its source is deleted: the file is in landing and in processing)."""
    contract = contracts["customers"]

    def fault(n, source, dest_name):
        if n == 3:
            gcs_dies(local_stack, settings, gcs)

    calls = copy_hook(monkeypatch, after_copy=fault)
    with pytest.raises(Outage):
        claims.claim_files(gcs, settings, contract, "b1")
    assert len(calls) == 3
    monkeypatch.undo()
    stack.up(local_stack)  # back, from its data folder
    half = sorted(b.name for b in gcs.list_blobs(settings.landing_bucket))
    assert "processing/customers/b1/customers_20261126_b.csv" in half and "customers/customers_20261126_b.csv" in half

    claim = claims.claim_files(gcs, settings, contract, "b1")  # the task's retry
    clean, claimed, places, settled = clean_claim
    assert claim == clean  # the same files, attempt 0, and the quarantined object with its reason
    assert buckets(gcs, settings) == claimed
    assert claims.settle_files(gcs, settings, contract, claim, REJECTED) == places
    assert buckets(gcs, settings) == settled


def test_gcs_killed_in_the_middle_of_a_settle_the_retried_settle_finishes_it(
    landing, clean_claim, local_stack, gcs, settings, contracts, monkeypatch
):
    """Killed after the first file was archived and the second one copied to quarantine, before
    its processing object was deleted; the settle had not written the manifest yet."""
    contract = contracts["customers"]
    claim = claims.claim_files(gcs, settings, contract, "b1")

    def fault(n, source, dest_name):
        if n == 2:
            gcs_dies(local_stack, settings, gcs)

    calls = copy_hook(monkeypatch, after_copy=fault)
    with pytest.raises(Outage):
        claims.settle_files(gcs, settings, contract, claim, REJECTED)
    assert len(calls) == 2
    monkeypatch.undo()
    stack.up(local_stack)

    _, _, places, settled = clean_claim
    assert claims.settle_files(gcs, settings, contract, claim, REJECTED) == places  # the task's retry
    assert buckets(gcs, settings) == settled
    # The manifest knows where each file went: a re-run of the batch takes every file back.
    rerun = claims.claim_files(gcs, settings, contract, "b1")
    assert sorted(f.name for f in rerun.files) == sorted(f.name for f in claim.files)
    assert {f.origin for f in rerun.files} == {"rerun"} and rerun.attempt == 1


def test_two_claims_meeting_at_the_copy_take_each_file_once_and_the_other_learns_which_batch(
    landing, gcs, settings, contracts, monkeypatch
):
    """Two runs naming the same files (an event and a manual run) reach each file together:
    a barrier holds each claim after its copy, until the other has copied too; then both try
    to delete the source."""
    contract = contracts["customers"]
    barrier = threading.Barrier(2, timeout=60)  # a claim that never arrives breaks it: no hang
    calls = copy_hook(monkeypatch, after_copy=lambda n, source, dest_name: barrier.wait())
    asked = sorted(FILES)
    with ThreadPoolExecutor(2) as pool:
        event, manual = pool.map(lambda b: claims.claim_files(gcs, settings, contract, b, only_files=asked),
                                 ["event", "manual"])
    assert len(calls) == 2 * len(FILES)  # both copied every file: they really met at each one

    names = [naming.file_name(f) for f in asked]
    got = {c.batch_id: {f.name for f in c.files} | {naming.file_name(o) for o in c.misnamed} for c in (event, manual)}
    assert not got["event"] & got["manual"] and sorted(got["event"] | got["manual"]) == names
    # every claimed object is in its one batch's processing prefix, the misnamed one in quarantine once
    held = sorted(b.name for b in gcs.list_blobs(settings.landing_bucket))
    assert held == sorted(f.object for c in (event, manual) for f in c.files)
    assert [b.name.split("/")[1:] for b in gcs.list_blobs(settings.quarantine_bucket)] in (
        [["event", "notes.txt"]], [["manual", "notes.txt"]])
    # each run learns, for the files it did not get, which batch took them
    for mine, other in ((event, manual), (manual, event)):
        assert mine.taken_batches() == {name: [other.batch_id] for name in sorted(got[other.batch_id])}


@pytest.mark.parametrize("when", ["before the copy", "after the copy"])
def test_a_file_overwritten_while_it_is_claimed_keeps_its_new_generation(
    when, landing, gcs, settings, contracts, monkeypatch
):
    """The producer sends a file again (same name, new generation) while a claim moves it: the
    new generation is never deleted unseen; it stays in landing and the next run claims it."""
    contract = contracts["customers"]
    name, new = "customers/customers_20261125.csv", b"customer_id\n1\n99\n"

    def overwrite(n, source, dest_name):
        if source.name == name:
            gcs.bucket(settings.landing_bucket).blob(name).upload_from_string(new)

    copy_hook(monkeypatch, **{"before_copy" if when == "before the copy" else "after_copy": overwrite})
    first = claims.claim_files(gcs, settings, contract, "b1")
    monkeypatch.undo()
    assert gcs.bucket(settings.landing_bucket).blob(name).download_as_bytes() == new  # not lost
    assert "customers_20261125.csv" not in {f.name for f in first.files}  # not claimed half old, half new
    assert sorted(f.name for f in first.files) == ["customers_20261126_b.csv", "customers_20261127_c.csv"]

    second = claims.claim_files(gcs, settings, contract, "b2")  # the next run
    assert [f.name for f in second.files] == ["customers_20261125.csv"]
    assert gcs.bucket(settings.landing_bucket).blob(second.files[0].object).download_as_bytes() == new
    assert second.files[0].checksum == "md5:" + base64.b64encode(hashlib.md5(new).digest()).decode()


def test_a_retried_claim_names_again_the_objects_it_quarantined(landing, gcs, settings, contracts):
    """The claim task's retry after BigQuery failed it at the quarantine audit rows
    (tasks.record_claim_quarantine runs after the claim): the retried claim still names the
    objects its first try quarantined, so their audit rows and alert are written then."""
    contract = contracts["customers"]
    first = claims.claim_files(gcs, settings, contract, "b1")
    assert list(first.misnamed) == ["customers/notes.txt"]
    assert claims.claim_files(gcs, settings, contract, "b1") == first
    # a re-run of the batch (a new attempt) takes its files back and quarantines nothing
    claims.settle_files(gcs, settings, contract, first, {})
    rerun = claims.claim_files(gcs, settings, contract, "b1")
    assert (rerun.attempt, rerun.misnamed) == (1, {})
    assert claims.claim_files(gcs, settings, contract, "b1").misnamed == {}
