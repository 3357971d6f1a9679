"""Names derived from a feed: the DAG id here (batch and object names are tested with claims)."""

from __future__ import annotations

from feedline.contract import naming


def test_the_dag_id_of_a_feed():
    assert naming.dag_id("transactions") == "feedline_transactions"
    assert naming.dag_id("customers") == "feedline_customers"



def test_quarantine_names_keep_the_path_below_the_feed_so_colliding_objects_stay_apart():
    a = naming.quarantine_name("customers", "b1", naming.relative_name("customers", "customers/a/x.csv"))
    b = naming.quarantine_name("customers", "b1", naming.relative_name("customers", "customers/b/x.csv"))
    assert (a, b) == ("customers/b1/a/x.csv", "customers/b1/b/x.csv")
    assert naming.quarantine_name("customers", "b1", "x.csv") == "customers/b1/x.csv"


def test_a_quarantine_name_too_long_for_gcs_or_with_dot_segments_is_a_digest_and_the_name_end():
    long_a, long_b = "é" * 600 + "/a.csv", "é" * 600 + "/b.csv"
    names = [naming.quarantine_name("customers", "b1", rel) for rel in (long_a, long_b, "../x.csv", "a/../x.csv", "a//x.csv")]
    assert len(set(names)) == len(names)  # still one name per object
    for name in names:
        assert len(name.encode()) <= naming.MAX_OBJECT_NAME_BYTES and name.startswith("customers/b1/")
        assert not {"", ".", ".."} & set(name.split("/"))
    assert names[0].endswith("_a.csv") and names[2].endswith("_x.csv")
    huge = naming.quarantine_name("customers", "b1", "😀" * 400)  # a base name alone past the limit
    assert len(huge.encode()) <= naming.MAX_OBJECT_NAME_BYTES and huge.endswith("😀")


def test_the_longest_claimable_name_keeps_processing_and_archive_names_within_gcs_limits():
    batch = "manual_2026_12_01t00_00_00_00_00_e8448eb418"
    limit = naming.longest_file_name("customers", batch)
    name = "n" * limit
    assert len(naming.archive_name("customers", "20261201", batch, name).encode()) <= naming.MAX_OBJECT_NAME_BYTES
    assert len((naming.processing_prefix("customers", batch) + name).encode()) <= naming.MAX_OBJECT_NAME_BYTES
    assert len(naming.archive_name("customers", "20261201", batch, name + "n").encode()) > naming.MAX_OBJECT_NAME_BYTES
