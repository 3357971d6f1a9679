"""Arrow <-> numpy helpers, without pandas."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from feedline.validate.columnar.arrow import (
    bools,
    combined,
    fixed_digits,
    ints,
    scatter_bools,
    scatter,
    string_offsets,
)


def test_bools_read_nulls_as_false_and_respect_slices():
    values = pa.array([True, None, False, True, True, False, True, None, True, False])
    assert bools(values).tolist() == [True, False, False, True, True, False, True, False, True, False]
    assert bools(values.slice(3, 5)).tolist() == [True, True, False, True, False]
    assert bools(pa.chunked_array([[True], [False, True]])).tolist() == [True, False, True]
    assert bools(pa.array([], pa.bool_())).tolist() == []


def test_ints_of_every_width_and_slices():
    for kind in (pa.int8(), pa.int16(), pa.int32(), pa.int64()):
        values = pa.array([1, -2, 3, 100], kind)
        assert ints(values).tolist() == [1, -2, 3, 100]
        assert ints(values.slice(1, 2)).tolist() == [-2, 3]
        assert ints(values).dtype == np.int64


def test_combined_joins_chunks():
    assert combined(pa.chunked_array([["a"], ["b", "c"]])).to_pylist() == ["a", "b", "c"]


def test_string_offsets_and_fixed_digits():
    values = pa.array(["x", "2026-11-25", "1999-01-02"]).slice(1)
    assert string_offsets(values).tolist() == [1, 11, 21]
    assert fixed_digits(values, [0, 1, 2, 3, 8, 9]).tolist() == [[2, 0, 2, 6, 2, 5], [1, 9, 9, 9, 0, 2]]


def test_scatter_puts_values_where_told():
    assert scatter_bools(4, np.array([1, 3]), np.array([True, True])).tolist() == [False, True, False, True]
    assert scatter(3, np.array([2]), pa.array(["z"])).to_pylist() == [None, None, "z"]
    same = pa.array(["a", "b"])
    assert scatter(2, np.array([0, 1]), same) is same
