"""zsession tables and tensors from Python: pandas.DataFrame <-> the "table" handler, numpy
arrays / DLPack producers <-> the "tensor" handler (docs/PROTOCOL.md 6.4 and 6.5).

Writing::

    buffers = []
    content = {"df": offload_table(frame, buffers), "t": offload_tensor(array, buffers)}

Reading::

    values = zsession_placeholders.resolve(content, buffers, decoders=DECODERS)

Numeric, bool and datetime64[ns] columns are zero-copy both ways: a sent column's buffer is
the column's own memory, a received column is a read-only view of the frame. String columns
are copied (UTF-8 bytes + offsets one way, Python str objects the other). Columns with a
validity bitmap become pandas' nullable arrays (Int64, Float64, boolean: values zero-copy,
the mask unpacked) or object columns with None. The index is not sent: reset_index() first.
"""

import ctypes

import numpy as np
import pandas as pd

import zsession_placeholders as zp

_UNITS = {"Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as"}


def _placeholder(handler, header, bufs, buffers):
    first = len(buffers)
    buffers.extend(bufs)
    return {zp.MARKER: zp.VERSION, "handler": handler, "header": header, "first": first,
            "count": len(bufs), "sizes": [memoryview(b).nbytes for b in bufs],
            "compression": ["none"] * len(bufs)}


def _bitmap(present):
    """Arrow validity bitmap (LSB first) from a bool array; None when all present."""
    present = np.asarray(present, dtype=bool)
    if present.all():
        return None
    return np.packbits(present, bitorder="little")


def _strings(values, present):
    data = [v.encode("utf-8") if p else b"" for v, p in zip(values, present)]
    lengths = np.fromiter((len(d) for d in data), dtype=np.int64, count=len(data))
    offsets = np.zeros(len(data) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    large = offsets[-1] > np.iinfo(np.int32).max
    return ("large_utf8" if large else "utf8",
            [offsets.astype("<i8" if large else "<i4"), b"".join(data)])


def _column(series):
    """(dtype string, [values buffers], validity or None) for one pandas column."""
    dt = series.dtype
    if isinstance(dt, pd.DatetimeTZDtype):
        raise TypeError(f"column {series.name!r}: tz-aware datetimes are not supported; "
                        "convert to UTC and drop the zone first")
    if isinstance(dt, (pd.CategoricalDtype, pd.PeriodDtype, pd.IntervalDtype)):
        raise TypeError(f"column {series.name!r}: {dt} is not supported")
    if isinstance(dt, pd.api.extensions.ExtensionDtype) and hasattr(series.array, "_mask"):
        arr = series.array  # Int64 / Float64 / boolean: values + mask, values zero-copy
        values = np.ascontiguousarray(arr._data)
        return values.dtype.str, [values], _bitmap(~arr._mask)
    if dt == object or isinstance(dt, pd.StringDtype):
        values = series.to_numpy(dtype=object)
        present = np.array([isinstance(v, str) for v in values], dtype=bool)
        bad = [v for v, p in zip(values, present) if not p and not pd.isna(v)]
        if bad:
            raise TypeError(f"column {series.name!r}: object column holds {type(bad[0]).__name__}")
        name, bufs = _strings(values, present)
        return name, bufs, _bitmap(present)
    values = series.to_numpy()
    if values.dtype.kind in "Mm":
        present = ~np.isnat(values)
        values = np.ascontiguousarray(values)
        return values.dtype.str, [values.view(np.int64)], _bitmap(present)
    values = np.ascontiguousarray(values)
    zp._dtype(values.dtype.str)  # refuses dtypes the protocol does not have
    return values.dtype.str, [values], None


def offload_table(frame, buffers):
    """Append the DataFrame's column buffers to `buffers`; return its placeholder."""
    columns, bufs = [], []
    for name in frame.columns:
        if not isinstance(name, str):
            raise TypeError(f"column names must be str, not {type(name).__name__}")
        dtype, values, validity = _column(frame[name])
        columns.append({"name": name, "dtype": dtype, "validity": validity is not None})
        bufs.extend(values)
        if validity is not None:
            bufs.append(validity)
    return _placeholder("table", {"rows": len(frame), "columns": columns}, bufs, buffers)


def _column_type(text):
    if text in ("utf8", "large_utf8"):
        return text, None
    if isinstance(text, str) and len(text) > 5 and text[1] in "Mm" and text[2:4] == "8[":
        if text[0] not in "<>" or text[-1] != "]" or text[4:-1] not in _UNITS:
            raise zp.PlaceholderError(f"unsupported column dtype {text!r}")
        return "time", np.dtype(text)
    return "array", zp._dtype(text)


def _check_bitmap(buf, rows):
    if memoryview(buf).nbytes != (rows + 7) // 8:
        raise zp.PlaceholderError("validity bitmap is not ceil(rows / 8) bytes")
    return np.unpackbits(np.frombuffer(buf, np.uint8), count=rows, bitorder="little").astype(bool)


def _decode_strings(kind, offsets_buf, data_buf, rows):
    odt = np.dtype("<i4" if kind == "utf8" else "<i8")
    if memoryview(offsets_buf).nbytes != (rows + 1) * odt.itemsize:
        raise zp.PlaceholderError("offsets buffer is not rows + 1 offsets")
    offsets = np.frombuffer(offsets_buf, odt).astype(np.int64)
    data = bytes(data_buf)
    if offsets[0] != 0 or offsets[-1] != len(data) or (np.diff(offsets) < 0).any():
        raise zp.PlaceholderError("string offsets are not 0 ... len(data), non-decreasing")
    try:
        return [data[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    except UnicodeDecodeError as e:
        raise zp.PlaceholderError(f"string data is not valid UTF-8: {e}") from e


def _decode_column(col, take, rows):
    if not isinstance(col, dict) or not isinstance(col.get("name"), str):
        raise zp.PlaceholderError("table column must be a map with a name")
    kind, dt = _column_type(col.get("dtype"))
    if kind in ("utf8", "large_utf8"):
        values = _decode_strings(kind, take(), take(), rows)
    else:
        buf = take()
        if memoryview(buf).nbytes != rows * dt.itemsize:
            raise zp.PlaceholderError("column buffer is not rows * itemsize bytes")
        values = np.frombuffer(buf, dtype=dt)
        if dt.kind == "b" and (np.frombuffer(buf, np.uint8) > 1).any():
            raise zp.PlaceholderError("|b1 column holds a byte other than 0 or 1")
    present = _check_bitmap(take(), rows) if col.get("validity") is True else None
    return col["name"], _with_validity(values, present)


def _with_validity(values, present):
    if present is None:
        return values if isinstance(values, np.ndarray) else np.array(values, dtype=object)
    if isinstance(values, list):
        return np.array([v if p else None for v, p in zip(values, present)], dtype=object)
    if values.dtype.kind in "iu":
        return pd.arrays.IntegerArray(values, ~present)
    if values.dtype.kind == "f":
        return pd.arrays.FloatingArray(values, ~present)
    if values.dtype.kind == "b":
        return pd.arrays.BooleanArray(values, ~present)
    if values.dtype.kind in "Mm":
        out = values.copy()
        out[~present] = np.datetime64("NaT") if values.dtype.kind == "M" else np.timedelta64("NaT")
        return out
    return np.array([v if p else None for v, p in zip(values, present)], dtype=object)


def decode_table(header, bufs):
    """A DataFrame from a "table" header and its buffers; numeric columns are views."""
    rows, cols = header.get("rows"), header.get("columns")
    if not isinstance(rows, int) or rows < 0 or not isinstance(cols, list):
        raise zp.PlaceholderError("table header needs rows and columns")
    it = iter(bufs)

    def take():
        try:
            return next(it)
        except StopIteration:
            raise zp.PlaceholderError("table header names more buffers than it has") from None

    data = {}
    for col in cols:
        name, values = _decode_column(col, take, rows)
        if name in data:
            raise zp.PlaceholderError(f"table has two columns named {name!r}")
        data[name] = values
    if next(it, None) is not None:
        raise zp.PlaceholderError("table placeholder has buffers its header does not name")
    # copy=False keeps each numpy column its own block: a view of the frame (pandas 1.5).
    return pd.DataFrame(data, index=pd.RangeIndex(rows), copy=False)


# ---- tensors through DLPack -----------------------------------------------------------------

class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int), ("device_id", ctypes.c_int)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int),
                ("dtype", _DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


_DL_KINDS = {0: "i", 1: "u", 2: "f", 5: "c", 6: "b"}


def _tensor_from_capsule(obj):
    """(header, numpy view) of a DLPack producer's CPU tensor, read through its capsule."""
    device_type, device_id = obj.__dlpack_device__()
    capsule = obj.__dlpack__()
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    t = _DLTensor.from_address(get(capsule, b"dltensor"))
    header = {"device": [int(device_type), int(device_id)]}
    if int(device_type) != 1:
        raise TypeError(f"tensor on device type {device_type} id {device_id}: CPU only here")
    if t.dtype.lanes != 1 or t.dtype.code not in _DL_KINDS:
        raise TypeError("unsupported DLPack dtype")
    dt = np.dtype(f"{'|' if t.dtype.bits == 8 else '<'}{_DL_KINDS[t.dtype.code]}{t.dtype.bits // 8}")
    shape = [t.shape[i] for i in range(t.ndim)]
    # The capsule stays owned by `obj` (it was not consumed), so its memory lives as long as
    # obj does; numpy's own from_dlpack gives the same view with a reference to obj.
    arr = np.from_dlpack(obj)
    assert arr.__array_interface__["data"][0] == (t.data or 0) + t.byte_offset or arr.size == 0
    header.update(dtype=dt.str, shape=shape)
    return header, arr


def offload_tensor(obj, buffers):
    """Append a DLPack producer's (numpy array, torch CPU tensor, ...) bytes; placeholder."""
    header, arr = _tensor_from_capsule(obj)
    order = "F" if arr.flags.f_contiguous and not arr.flags.c_contiguous else "C"
    if not (arr.flags.c_contiguous or arr.flags.f_contiguous):
        arr, order = np.ascontiguousarray(arr), "C"
    header = {"dtype": header["dtype"], "shape": header["shape"], "order": order,
              "device": header["device"]}
    return _placeholder("tensor", header, [arr.reshape(-1, order="A").view(np.uint8)], buffers)


def decode_tensor(header, bufs):
    """A read-only numpy view of a "tensor" (a DLPack producer: numpy.from_dlpack accepts it)."""
    device = header.get("device")
    if not (isinstance(device, list) and len(device) == 2 and all(isinstance(d, int) for d in device)):
        raise zp.PlaceholderError("tensor device must be [type, id]")
    if device[0] != 1:
        raise zp.PlaceholderError(f"tensor for device type {device[0]} id {device[1]}: CPU only here")
    return zp._decode_ndarray({k: header.get(k) for k in ("dtype", "shape", "order")}, bufs)


DECODERS = dict(zp.DECODERS, table=decode_table, tensor=decode_tensor)
