"""The pure parts of claiming: which objects of a claim collide, and the texts a claim stores."""

from __future__ import annotations

from feedline.contract import naming
from feedline.storage import claims


def test_objects_sharing_a_base_name_collide_and_lone_ones_do_not():
    objects = ["customers/b/x.csv", "customers/a/x.csv", "customers/x.csv", "customers/sub/y.csv", "customers/z.csv"]
    assert claims.collisions(objects) == {"x.csv": ["customers/a/x.csv", "customers/b/x.csv", "customers/x.csv"]}
    assert claims.collisions(["customers/sub/y.csv"]) == {}


def test_a_collision_reason_names_every_object():
    reason = claims.collision_reason("x.csv", ["customers/a/x.csv", "customers/b/x.csv"])
    assert "'customers/a/x.csv'" in reason and "'customers/b/x.csv'" in reason and "'x.csv'" in reason


def test_metadata_text_is_ascii_and_bounded():
    text = claims.metadata_text("bad name customers_٢٠٢٦_😀.csv " + "x" * 5000)
    assert text.isascii() and len(text) <= claims.MAX_REASON_CHARS * 10
    assert text.startswith("bad name customers_\\u0662\\u0660\\u0662\\u0666_\\U0001f600.csv")


def test_too_long_reason_gives_the_size_and_the_limit():
    limit = naming.longest_file_name("customers", "b1")
    reason = claims.too_long_reason("n" * 1000, limit)
    assert "1000 bytes" in reason and f"at most {limit} bytes" in reason


def test_a_files_checksum_is_its_md5_or_else_its_crc32c_with_its_size():
    from types import SimpleNamespace

    assert claims.content_checksum(SimpleNamespace(md5_hash="AAA=", crc32c="cc==", size=3)) == "md5:AAA="
    # a composite upload has no MD5: 32 bits alone would match unrelated files, so the size goes along
    assert claims.content_checksum(SimpleNamespace(md5_hash=None, crc32c="cc==", size=3)) == "crc32c:cc==:3"
    assert claims.content_checksum(SimpleNamespace(md5_hash=None, crc32c=None, size=3)) is None


def test_a_claim_splits_by_file_name_and_keeps_the_rest():
    files = [claims.ClaimedFile(n, f"processing/{n}", "landing", None, f"md5:{n}") for n in ("a.csv", "b.csv")]
    claim = claims.Claim("b_1", files, {"x": "misnamed"}, 2)
    assert [f.name for f in claim.only(["b.csv"]).files] == ["b.csv"]
    assert [f.name for f in claim.without(["b.csv"]).files] == ["a.csv"]
    assert claim.without(["b.csv"]).attempt == 2 and claim.only([]).files == [] and len(claim.files) == 2
    # an XCom of a claim made before checksums were kept still reads
    old = claim.to_xcom()
    for f in old["files"]:
        del f["checksum"]
    assert claims.Claim.from_xcom(old).files[0].checksum is None
    assert claims.Claim.from_xcom(claim.to_xcom()) == claim
