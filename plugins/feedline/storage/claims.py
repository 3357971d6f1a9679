"""Claiming and settling a batch's files in GCS.

A claim moves files from the landing prefix to the batch's processing prefix. The move deletes
the source only if its generation is unchanged, so when two runs race for a file exactly one
wins and the other drops its copy. Every step is safe to retry:

- claim: a batch whose processing prefix already holds files (a retried task) returns them;
  a batch that already finished (a cleared, re-run DAG run) takes its files back from where
  its manifest says they went, so the re-run processes exactly the same files;
- a claim of named files (manual or event run) that finds some no longer in landing says where
  each went (another batch's processing prefix, the archive or quarantine: the batch is in the
  path), so the run can name the batch that took them;
- settle: moves each file to the archive (accepted) or to quarantine (rejected, with the reason
  in the object's metadata) and records that in the manifest.

Nothing is overwritten: a batch's processing prefix is flat (the Beam job and the audit know a
file by its base name), so objects of one claim that share a base name (``a/x.csv`` and
``b/x.csv`` under the feed's prefix) are all quarantined, with a reason naming each of them;
quarantine names keep each object's path below the feed's prefix, so they cannot clash either.
Every copy asks GCS to refuse an existing destination (``if_generation_match=0``); the local
emulator ignores preconditions, so the destination is also looked for first.

Works on a ``google.cloud.storage.Client`` (from Airflow's GCSHook in the DAG).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import urllib.parse
from dataclasses import asdict, dataclass, field

from google.api_core.exceptions import NotFound, PreconditionFailed
from google.cloud import storage

from feedline.contract import naming
from feedline.contract.model import Contract
from feedline.settings import Settings

ORIGIN_KEY = "feedline-origin"
REASON_KEY = "feedline-quarantine-reason"
# The landing object a claim quarantined, percent-encoded (exact, and ASCII: see metadata_text).
LANDING_KEY = "feedline-landing-object"
# GCS allows 8 KiB of custom metadata per object; a reason naming many objects is cut here.
MAX_REASON_CHARS = 2048
# Manifest key of a claim under way (see claim_files).
CLAIMING_KEY = "claiming"
# Manifest key of what the attempt's claim quarantined (a retry of the task reports it again).
CLAIM_QUARANTINED_KEY = "claim_quarantined"


class NameClash(RuntimeError):
    """A copy whose destination already holds an object: refused, nothing is overwritten."""


@dataclass
class ClaimedFile:
    name: str  # file name (no folders)
    object: str  # object in the landing bucket's processing prefix
    origin: str  # landing | archive (backfill) | rerun
    file_date: str | None
    checksum: str | None = None  # content_checksum of the claimed object


@dataclass
class Claim:
    batch_id: str
    files: list[ClaimedFile] = field(default_factory=list)
    # Landing objects this claim quarantined (misnamed, colliding, name too long) -> reason
    misnamed: dict[str, str] = field(default_factory=dict)
    attempt: int = 0  # 0 for the batch's first run, +1 for each re-run of the batch
    # Requested files no longer in landing: name -> where they went (gs:// places, batch in the path)
    taken: dict[str, list[str]] = field(default_factory=dict)

    def only(self, names) -> "Claim":
        """The same claim with just these files (the rest of it unchanged)."""
        wanted = set(names)
        return dataclasses.replace(self, files=[f for f in self.files if f.name in wanted])

    def without(self, names) -> "Claim":
        """The same claim without these files."""
        unwanted = set(names)
        return dataclasses.replace(self, files=[f for f in self.files if f.name not in unwanted])

    def taken_batches(self) -> dict[str, list[str]]:
        """Requested file -> the batches that took it (read from its places)."""
        return {name: sorted({batch_of(place) for place in places}) for name, places in self.taken.items()}

    def to_xcom(self) -> dict:
        return asdict(self)

    @classmethod
    def from_xcom(cls, data: dict) -> "Claim":
        return cls(
            data["batch_id"], [ClaimedFile(**f) for f in data["files"]], dict(data["misnamed"]), data["attempt"],
            {k: list(v) for k, v in data.get("taken", {}).items()},
        )


def manifest_name(feed: str, batch_id: str) -> str:
    return f"claims/{feed}/{batch_id}.json"


def has_manifest(client: storage.Client, settings: Settings, contract: Contract, batch_id: str) -> bool:
    """True when this batch claimed files before: a re-run of the same DAG run."""
    return client.bucket(settings.work_bucket).blob(manifest_name(contract.feed, batch_id)).exists()


def _read_manifest(client: storage.Client, settings: Settings, contract: Contract, batch_id: str) -> dict:
    blob = client.bucket(settings.work_bucket).blob(manifest_name(contract.feed, batch_id))
    try:
        return json.loads(blob.download_as_bytes())
    except NotFound:
        return {}


def _write_manifest(client, settings: Settings, contract: Contract, batch_id: str, manifest: dict) -> None:
    blob = client.bucket(settings.work_bucket).blob(manifest_name(contract.feed, batch_id))
    blob.upload_from_string(json.dumps(manifest, indent=2, sort_keys=True), content_type="application/json")


def metadata_text(text: str) -> str:
    """A metadata value as GCS returns it on downloads too (``x-goog-meta-*`` headers, latin-1
    only; the local emulator's download fails outright on anything else): non-ASCII escaped."""
    return text[:MAX_REASON_CHARS].encode("ascii", "backslashreplace").decode("ascii")


def content_checksum(blob: storage.Blob) -> str | None:
    """What names a file's bytes across names and batches (a repeated drop is found by it):
    GCS's MD5, or, for an object that has none (a composite upload), its CRC32C with its size
    (32 bits alone would match unrelated files of a long-lived feed). None when GCS gave
    neither: such a file is never taken for a repeat. Pure."""
    if blob.md5_hash:
        return f"md5:{blob.md5_hash}"
    if blob.crc32c:
        return f"crc32c:{blob.crc32c}:{blob.size}"
    return None


def _same_content(a: storage.Blob, b: storage.Blob) -> bool:
    return a.size == b.size and (a.crc32c or a.md5_hash) == (b.crc32c or b.md5_hash) is not None


def _copy_new(client, source: storage.Blob, dest_bucket: str, dest_name: str, **source_precondition) -> storage.Blob:
    """Copy to a name that must not exist: NameClash rather than overwrite another object. A
    destination that already holds the same bytes is an earlier try's copy (a retry after a
    fault between copy and delete): it is returned, so every step stays safe to retry."""
    dest = client.bucket(dest_bucket)
    held = dest.get_blob(dest_name)  # looked for first: the emulator ignores if_generation_match
    if held is not None:
        if source.crc32c is None and source.md5_hash is None:
            source.reload()
        if _same_content(held, source):
            return held
        raise NameClash(f"gs://{dest_bucket}/{dest_name} already exists: not overwritten by {source.name}")
    try:
        return client.bucket(source.bucket.name).copy_blob(
            source, dest, dest_name, if_generation_match=0, **source_precondition
        )
    except PreconditionFailed:
        if dest.blob(dest_name).exists():  # created meanwhile: GCS refused to overwrite it
            raise NameClash(f"gs://{dest_bucket}/{dest_name} already exists: not overwritten by {source.name}") from None
        raise  # the source changed: the caller decides


def _move(client, source: storage.Blob, dest_bucket: str, dest_name: str, metadata: dict) -> bool:
    """Copy then delete the source if it is unchanged; False when another run took it first."""
    try:
        source.reload()
        copy = _copy_new(client, source, dest_bucket, dest_name, if_source_generation_match=source.generation)
    except (NotFound, PreconditionFailed):
        return False
    copy.metadata = {**(copy.metadata or {}), **metadata}
    copy.patch()
    # The source must still be the generation copied: one overwritten meanwhile (a producer
    # re-sending the file) stays in landing for the next run. GCS refuses the delete below
    # then; the local emulator ignores the precondition and would delete the new generation,
    # unseen (tests/integration/test_claim_faults.py), so it is looked at first, as in _copy_new.
    current = source.bucket.get_blob(source.name)
    if current is None or current.generation != source.generation:
        copy.delete()
        return False
    try:
        source.delete(if_generation_match=source.generation)
    except (NotFound, PreconditionFailed):
        copy.delete()
        return False
    return True


def _is_file(name: str) -> bool:
    return not name.endswith("/")


def claim_files(
    client: storage.Client,
    settings: Settings,
    contract: Contract,
    batch_id: str,
    only_files: list[str] | None = None,
    file_date: str | None = None,
    from_archive: bool = False,
    copy_only: bool = False,
) -> Claim:
    """Take this batch's files (see the module docstring for retries and re-runs).
    ``copy_only`` (a dry run): copy them from landing and quarantine nothing, so they stay
    where the next real run finds them."""
    processing = naming.processing_prefix(contract.feed, batch_id)
    claim = Claim(batch_id)
    manifest = _read_manifest(client, settings, contract, batch_id)
    # A try that stopped half way (GCS gone between two moves) left the CLAIMING_KEY mark: the
    # files it already moved are in processing, the rest still in landing. Its retry does the
    # whole step again (every move is safe to repeat) rather than take only what it finds,
    # which would leave the rest for another batch, or, in a re-run, drop them from the batch.
    if CLAIMING_KEY in manifest or not _files_under(client, settings, processing):
        claim.misnamed = _take_files(client, settings, contract, batch_id, manifest,
                                     only_files, file_date, from_archive, copy_only)
    else:
        # A retry of the task after its claim ended (e.g. BigQuery gone as it wrote the quarantine
        # audit rows): the same quarantined objects again, or their audit rows would never be written.
        last = manifest.get(CLAIM_QUARANTINED_KEY, {})
        if last.get("attempt") == manifest.get("attempt", 0):
            claim.misnamed = dict(last["objects"])
    claim.attempt = manifest.get("attempt", 0)
    claim.files = [_claimed_file(contract, blob) for blob in _files_under(client, settings, processing)]
    if only_files and "taken" not in manifest:
        # Asked-for files someone else took: found once, kept in the manifest for retries.
        # (Objects this claim quarantined are no one else's either.)
        mine = {f.name for f in claim.files} | {naming.file_name(o) for o in claim.misnamed}
        missing = sorted({naming.file_name(f) for f in only_files} - mine)
        manifest["taken"] = locate_files(client, settings, contract, missing, exclude_batch=batch_id)
    claim.taken = manifest.get("taken", {})

    manifest.setdefault("files", {})
    for f in claim.files:
        manifest["files"].setdefault(f.name, {"origin": f.origin, "location": None})
    manifest.setdefault("misnamed", {}).update(claim.misnamed)
    _write_manifest(client, settings, contract, batch_id, manifest)
    return claim


def _files_under(client, settings: Settings, processing: str) -> list[storage.Blob]:
    """The files in a batch's processing prefix, by name."""
    blobs = client.list_blobs(client.bucket(settings.landing_bucket), prefix=processing)
    return sorted((b for b in blobs if _is_file(b.name)), key=lambda b: b.name)


def _claimed_file(contract: Contract, blob: storage.Blob) -> ClaimedFile:
    name = naming.file_name(blob.name)
    origin = (blob.metadata or {}).get(ORIGIN_KEY, "landing")
    return ClaimedFile(name, blob.name, origin, contract.file_date(name), content_checksum(blob))


def _take_files(client, settings, contract, batch_id, manifest: dict, only_files, file_date, from_archive,
                copy_only) -> dict[str, str]:
    """The claim's moves, under the CLAIMING_KEY mark: a finished batch's files taken back, a
    backfill's copied from the archive, or landing's claimed. Returns the objects quarantined
    (-> reason), which the manifest keeps for a retry of the task."""
    processing = naming.processing_prefix(contract.feed, batch_id)
    pending = manifest.get(CLAIMING_KEY)
    if pending is None:
        # A new attempt of the batch (not a retry of this task, which finds its files in processing).
        manifest["attempt"] = manifest.get("attempt", -1) + 1
    misnamed: dict[str, str] = {}
    if manifest.get("files"):
        _mark_claiming(client, settings, contract, batch_id, manifest, {})
        _take_back(client, settings, manifest, processing)
    elif from_archive:
        _mark_claiming(client, settings, contract, batch_id, manifest, {})
        _copy_from_archive(client, settings, contract, file_date, processing)
    else:
        pending = pending or {}
        taken, rejected = _plan_from_landing(client, settings, contract, batch_id, only_files, file_date)
        for blob in taken:  # e.g. one of two colliding objects, alone now: its verdict stands
            if blob.name in pending:
                rejected[blob.name] = blob, pending[blob.name]
        # Objects the stopped try quarantined are no longer in landing: its plan names them.
        quarantine = client.bucket(settings.quarantine_bucket)
        earlier = {
            obj: reason for obj, reason in pending.items()
            if quarantine.blob(
                naming.quarantine_name(contract.feed, batch_id, naming.relative_name(contract.feed, obj))).exists()
        }
        plan = {**pending, **{obj: reason for obj, (_, reason) in rejected.items()}}
        _mark_claiming(client, settings, contract, batch_id, manifest, plan)
        misnamed = {**earlier, **_move_from_landing(client, settings, contract, batch_id, taken, rejected, copy_only)}
    manifest.pop(CLAIMING_KEY, None)
    manifest[CLAIM_QUARANTINED_KEY] = {"attempt": manifest["attempt"], "objects": misnamed}
    return misnamed


def batch_of(place: str) -> str:
    """The batch in a gs:// place of locate_files: the folder that holds the file."""
    return place.rstrip("/").rsplit("/", 2)[-2]


def locate_files(
    client: storage.Client, settings: Settings, contract: Contract, wanted: list[str], exclude_batch: str = ""
) -> dict[str, list[str]]:
    """Where files of the feed went after landing, by name: gs:// places in another batch's
    processing prefix (claimed, running), the archive (ingested) or quarantine (rejected).
    A name found nowhere maps to [] (never landed, or deleted)."""
    feed, wanted_set = contract.feed, set(wanted)
    places: dict[str, list[str]] = {name: [] for name in wanted}
    if not wanted:
        return places
    # The archive is searched by the dates in the names only (it holds years of files).
    dates = sorted({d for d in map(contract.file_date, wanted) if d})
    searches = [
        (settings.landing_bucket, f"processing/{feed}/"),  # every batch's processing prefix
        *((settings.archive_bucket, naming.archive_date_prefix(feed, d)) for d in dates),
        (settings.quarantine_bucket, naming.landing_prefix(feed)),
    ]
    for bucket, prefix in searches:
        for blob in client.list_blobs(bucket, prefix=prefix):
            name = naming.file_name(blob.name)
            if name in wanted_set and _is_file(blob.name) and batch_of(blob.name) != exclude_batch:
                places[name].append(f"gs://{bucket}/{blob.name}")
    return places


def collisions(object_names: list[str]) -> dict[str, list[str]]:
    """Objects that would land on one name in a batch's flat processing prefix: base name ->
    every object with it (sorted), for base names shared by more than one. Pure."""
    by_name = collections.defaultdict(list)
    for object_name in object_names:
        by_name[naming.file_name(object_name)].append(object_name)
    return {name: sorted(objects) for name, objects in sorted(by_name.items()) if len(objects) > 1}


def collision_reason(name: str, objects: list[str]) -> str:
    return (
        f"{len(objects)} objects of this claim share the file name {name!r} ({', '.join(map(repr, objects))}): "
        "one would overwrite the other in the batch, so all are quarantined; drop them again under distinct names"
    )


def too_long_reason(name: str, limit: int) -> str:
    return (
        f"file name is {len(name.encode())} bytes; with the batch's folders it would pass GCS's "
        f"{naming.MAX_OBJECT_NAME_BYTES}-byte object name limit (at most {limit} bytes)"
    )


def _quarantine_from_landing(client, settings, contract, batch_id, blob, reason: str) -> bool:
    dest = naming.quarantine_name(contract.feed, batch_id, naming.relative_name(contract.feed, blob.name))
    metadata = {REASON_KEY: metadata_text(reason), LANDING_KEY: urllib.parse.quote(blob.name, safe="/")}
    return _move(client, blob, settings.quarantine_bucket, dest, metadata)


def _mark_claiming(client, settings, contract, batch_id, manifest: dict, plan: dict[str, str]) -> None:
    """Written before a claim moves anything (see claim_files): the attempt, and the landing
    objects it will quarantine -> reason."""
    manifest[CLAIMING_KEY] = plan
    _write_manifest(client, settings, contract, batch_id, manifest)


def _plan_from_landing(client, settings, contract, batch_id, only_files, file_date):
    """What a claim from landing takes (blobs) and quarantines (object -> (blob, reason)):
    misnamed, a name too long, or a base name shared with another object of the claim."""
    landing = client.bucket(settings.landing_bucket)
    wanted = {naming.file_name(f) for f in only_files} if only_files else None
    longest = naming.longest_file_name(contract.feed, batch_id)
    rejected: dict[str, tuple[storage.Blob, str]] = {}
    taken: list[storage.Blob] = []
    for blob in client.list_blobs(landing, prefix=naming.landing_prefix(contract.feed)):
        name = naming.file_name(blob.name)
        if not _is_file(blob.name) or (wanted is not None and name not in wanted):
            continue
        if not contract.matches_file_name(name):
            rejected[blob.name] = blob, f"file name does not match the {contract.feed} contract pattern {contract.file_pattern}"
        elif file_date and contract.file_date(name) != file_date:
            continue
        elif len(name.encode()) > longest:
            rejected[blob.name] = blob, too_long_reason(name, longest)
        else:
            taken.append(blob)
    clashing = collisions([b.name for b in taken])
    for objects in clashing.values():
        for object_name in objects:
            blob = next(b for b in taken if b.name == object_name)
            rejected[object_name] = blob, collision_reason(naming.file_name(object_name), objects)
    return taken, rejected


def _move_from_landing(client, settings, contract, batch_id, taken, rejected, copy_only=False) -> dict[str, str]:
    """Landing -> the batch's processing prefix, or quarantine with a reason (the plan of
    _plan_from_landing); never overwritten. Returns the quarantined objects -> reason (a dry
    run moves none, and reports them)."""
    processing = naming.processing_prefix(contract.feed, batch_id)
    misnamed: dict[str, str] = {}
    for object_name, (blob, reason) in sorted(rejected.items()):
        if copy_only or _quarantine_from_landing(client, settings, contract, batch_id, blob, reason):
            misnamed[object_name] = reason
    for blob in taken:
        if blob.name in rejected:
            continue
        if copy_only:
            copy = _copy_new(client, blob, settings.landing_bucket, processing + naming.file_name(blob.name))
            copy.metadata = {ORIGIN_KEY: "landing"}
            copy.patch()
        else:
            _move(client, blob, settings.landing_bucket, processing + naming.file_name(blob.name), {ORIGIN_KEY: "landing"})
    return misnamed


def _copy_from_archive(client, settings, contract, file_date, processing) -> None:
    """Backfill: the latest archived copy of each file of that date, copied (archive stays)."""
    if not file_date:
        raise ValueError("a backfill from the archive needs a file date (YYYYMMDD)")
    archive = client.bucket(settings.archive_bucket)
    latest: dict[str, storage.Blob] = {}
    for blob in client.list_blobs(archive, prefix=naming.archive_date_prefix(contract.feed, file_date)):
        name = naming.file_name(blob.name)
        if _is_file(blob.name) and (name not in latest or blob.updated > latest[name].updated):
            latest[name] = blob
    for name, blob in latest.items():
        copy = _copy_new(client, blob, settings.landing_bucket, processing + name)
        copy.metadata = {ORIGIN_KEY: "archive"}
        copy.patch()


def _take_back(client, settings, manifest: dict, processing: str) -> None:
    """Re-run of a finished batch: copy each file back from its archive or quarantine place."""
    for name, entry in manifest["files"].items():
        location = entry.get("location")
        if not location:
            continue
        bucket, _, object_name = location.removeprefix("gs://").partition("/")
        source = client.bucket(bucket).blob(object_name)
        copy = _copy_new(client, source, settings.landing_bucket, processing + name)
        copy.metadata = {ORIGIN_KEY: "rerun"}
        copy.patch()


def settle_files(
    client: storage.Client,
    settings: Settings,
    contract: Contract,
    claim: Claim,
    rejected: dict[str, str],
) -> dict[str, str]:
    """Archive accepted files, quarantine rejected ones (name -> reason); returns name -> gs:// place."""
    manifest = _read_manifest(client, settings, contract, claim.batch_id)
    places: dict[str, str] = {}
    for f in claim.files:
        blob = client.bucket(settings.landing_bucket).blob(f.object)
        entry = manifest.setdefault("files", {}).setdefault(f.name, {"origin": f.origin, "location": None})
        if f.name in rejected:
            bucket, dest = settings.quarantine_bucket, naming.quarantine_name(contract.feed, claim.batch_id, f.name)
            metadata = {REASON_KEY: metadata_text(rejected[f.name])}
        else:
            bucket = settings.archive_bucket
            dest = naming.archive_name(contract.feed, f.file_date or "unknown", claim.batch_id, f.name)
            metadata = {}
        place, previous = f"gs://{bucket}/{dest}", entry.get("location")
        backfilled = f.origin == "archive" and f.name not in rejected
        if backfilled:
            place = previous or place  # the archive already holds the file
        # The place is decided before looking for the file: a try that stopped half way (GCS gone
        # after some moves) wrote no manifest, and its retry must still record where each file
        # went (the manifest's old location, or none, would make a re-run drop the file).
        if not blob.exists():
            pass  # settled by an earlier try of this task
        elif backfilled:
            blob.delete()  # a backfill's copy
        elif place == previous and client.bucket(bucket).blob(dest).exists():
            # A re-run settling the file where it took it back from: that object is the file.
            if metadata:  # this attempt's reason
                held = client.bucket(bucket).get_blob(dest)
                held.metadata = {**(held.metadata or {}), **metadata}
                held.patch()
            blob.delete()
        else:
            _move(client, blob, bucket, dest, metadata)
        if previous and previous != place and client.bucket(bucket).blob(dest).exists():
            # The file is at its new place: its copy at the old one goes (unless an earlier try
            # of this task removed it).
            old_bucket, _, old_name = previous.removeprefix("gs://").partition("/")
            old = client.bucket(old_bucket).blob(old_name)
            if old.exists():
                old.delete()
        entry["location"] = place
        places[f.name] = place
    _write_manifest(client, settings, contract, claim.batch_id, manifest)
    return places


def release_copies(client: storage.Client, settings: Settings, contract: Contract, claim: Claim) -> dict[str, str]:
    """End of a dry run (claimed with ``copy_only``): delete its copies; each file's place is
    still the landing object, which the manifest records (a re-run of the dry run copies it
    from there again). Returns name -> gs:// place."""
    manifest = _read_manifest(client, settings, contract, claim.batch_id)
    places: dict[str, str] = {}
    for f in claim.files:
        copy = client.bucket(settings.landing_bucket).blob(f.object)
        if copy.exists():  # else removed by an earlier try of this task
            copy.delete()
        place = f"gs://{settings.landing_bucket}/{naming.landing_prefix(contract.feed)}{f.name}"
        manifest.setdefault("files", {}).setdefault(f.name, {"origin": f.origin})["location"] = place
        places[f.name] = place
    _write_manifest(client, settings, contract, claim.batch_id, manifest)
    return places
