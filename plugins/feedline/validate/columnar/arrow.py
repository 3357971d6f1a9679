"""Arrow <-> numpy without pandas (pyarrow's to_numpy() imports it: a second per worker)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def string_scalar(value: str | None) -> pa.Scalar:
    return pa.scalar(value, pa.string())


def combined(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def bools(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy (nulls read as False)."""
    values = combined(values)
    if values.null_count:
        values = pc.fill_null(values, False)
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    bits = np.frombuffer(values.buffers()[1], dtype=np.uint8)
    return np.unpackbits(bits, count=values.offset + len(values), bitorder="little")[values.offset :].astype(bool)


def ints(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """An integer Arrow array without nulls as int64 numpy."""
    values = combined(values)
    dtype = {8: np.int8, 16: np.int16, 32: np.int32, 64: np.int64}[values.type.bit_width]
    data = np.frombuffer(values.buffers()[1], dtype=dtype)
    return data[values.offset : values.offset + len(values)].astype(np.int64, copy=False)


def string_offsets(values: pa.Array) -> np.ndarray:
    return np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset : values.offset + len(values) + 1]


def fixed_digits(values: pa.Array, positions: list[int]) -> np.ndarray:
    """Digits at fixed character positions of regex-checked ASCII strings: an int64 matrix,
    one row per value, one column per position."""
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8) if len(values) else np.zeros(1, np.uint8)
    return data[string_offsets(values)[:-1, None] + np.asarray(positions)].astype(np.int64) - 48


def scatter_bools(size: int, where: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.zeros(size, dtype=bool)
    out[where] = values
    return out


def scatter(size: int, where: np.ndarray, values: pa.Array) -> pa.Array:
    """An array of ``size`` with ``values`` at ``where`` and nulls elsewhere."""
    if len(where) == size:
        return values
    index = np.full(size, -1, dtype=np.int64)
    index[where] = np.arange(len(where))
    return values.take(pa.array(index, mask=index < 0))


