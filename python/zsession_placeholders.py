"""Read and write zsession placeholders from Python, with numpy.

A placeholder is a map that stands in a message's content for a value whose bytes travel
as buffers (docs/PROTOCOL.md, "Placeholders"). This module needs only numpy; lz4
compression needs the `lz4` package (Debian: python3-lz4) and is imported on first use.

Writing::

    buffers = []
    content = {"x": offload(numpy_array, buffers), "y": offload(b"raw", buffers)}
    session.send(socket, "msg_type", content, buffers=buffers)

Reading::

    _, msg = session.recv(socket, copy=False)
    values = resolve(msg["content"], msg["buffers"])   # placeholders -> arrays/bytes/str

Received arrays are zero-copy, read-only views of the received buffers.

Duplicate keys: zsession refuses a received map that repeats a key, in every map and both
packers (docs/PROTOCOL.md, "Duplicate keys"); Python's json and msgpack readers would keep
the last value instead. Build the jupyter_client Session with this module's unpackers to
read messages exactly as zsession does::

    Session(key=key, packer="json", unpacker=zsession_placeholders.unpack_json)
    Session(key=key, packer="msgpack.packb", unpacker=zsession_placeholders.unpack_msgpack)
"""

import json

import numpy as np

MARKER = "__placeholder__"
VERSION = 1
_KINDS = {"b": (1,), "i": (1, 2, 4, 8), "u": (1, 2, 4, 8), "f": (2, 4, 8, 16), "c": (8, 16, 32)}


class PlaceholderError(ValueError):
    """A malformed placeholder (zsession's decode_error)."""


class UnknownHandlerError(PlaceholderError):
    """A placeholder names a handler this module does not know."""


class CompressionError(PlaceholderError):
    """A compressed buffer that does not decompress to its declared size."""


class DuplicateKeyError(PlaceholderError):
    """A received map repeats a key (zsession's decode_error)."""


def _unique_pairs(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise DuplicateKeyError(f"map repeats the key {k!r}")
        out[k] = v
    return out


def unpack_json(data):
    """json.loads that refuses any object repeating a key (DuplicateKeyError)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data).decode("utf-8")
    return json.loads(data, object_pairs_hook=_unique_pairs)


def unpack_msgpack(data):
    """msgpack.unpackb that refuses any map repeating a key (DuplicateKeyError)."""
    import msgpack

    return msgpack.unpackb(data, object_pairs_hook=_unique_pairs, raw=False)


def is_placeholder(obj):
    return isinstance(obj, dict) and MARKER in obj


def _lz4():
    import lz4.block

    return lz4.block


def _decompress(compression, buf, size):
    """Decoded bytes of one lz4 block, zstd frame (python3-zstandard) or Blosc chunk
    (python3-blosc); zstd and blosc are imported on first use."""
    if compression == "lz4":
        return _lz4().decompress(bytes(buf), uncompressed_size=size)
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompress(bytes(buf), max_output_size=size)
    import blosc

    return blosc.decompress(bytes(buf))


def _raw(value):
    """(handler, header, one contiguous byte view) for a supported value."""
    if isinstance(value, np.ndarray):
        order = "F" if value.flags.f_contiguous and not value.flags.c_contiguous else "C"
        arr = np.asarray(value, order=order)
        if arr.dtype.kind not in _KINDS or arr.dtype.itemsize not in _KINDS[arr.dtype.kind]:
            raise TypeError(f"unsupported dtype {arr.dtype.str}")
        header = {"dtype": arr.dtype.str, "shape": list(arr.shape), "order": order}
        return "ndarray", header, arr.reshape(-1, order="A").view(np.uint8)
    if isinstance(value, str):
        return "str", {}, value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes", {}, value
    raise TypeError(f"no handler for {type(value).__name__}")


def offload(value, buffers, compression="none"):
    """Append value's buffer to `buffers` and return its placeholder (a dict).

    value: numpy array (dtype kinds b, i, u, f, c), bytes-like, or str.
    compression: "none" or "lz4" (a raw LZ4 block, no stored size).
    """
    handler, header, data = _raw(value)
    size = memoryview(data).nbytes
    if compression == "lz4":
        data = _lz4().compress(bytes(data), store_size=False)
    elif compression != "none":
        raise ValueError(f"unknown compression {compression!r}")
    first = len(buffers)
    buffers.append(data)
    return {MARKER: VERSION, "handler": handler, "header": header, "first": first,
            "count": 1, "sizes": [size], "compression": [compression]}


def _uint(ph, key):
    v = ph.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise PlaceholderError(f"placeholder {key!r} must be a non-negative integer")
    return v


def _list(ph, key, count, item_type):
    v = ph.get(key)
    if not isinstance(v, list) or len(v) != count or not all(isinstance(x, item_type) for x in v):
        raise PlaceholderError(f"placeholder {key!r} must be a list of {count} {item_type.__name__}")
    return v


def _dtype(text):
    if not isinstance(text, str) or len(text) not in (3, 4) or text[0] not in "<>|":
        raise PlaceholderError(f"unsupported dtype {text!r}")
    kind, digits = text[1], text[2:]
    if kind not in _KINDS or not digits.isdigit() or digits[0] == "0" or int(digits) not in _KINDS[kind]:
        raise PlaceholderError(f"unsupported dtype {text!r}")
    if text[0] == "|" and int(digits) != 1:
        raise PlaceholderError(f"unsupported dtype {text!r}")
    return np.dtype(text)


def _decode_ndarray(header, bufs):
    if len(bufs) != 1:
        raise PlaceholderError("ndarray expects 1 buffer")
    dtype = _dtype(header.get("dtype"))
    shape, order = header.get("shape"), header.get("order")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise PlaceholderError("ndarray shape must be a list of non-negative integers")
    if order not in ("C", "F"):
        raise PlaceholderError("ndarray order must be 'C' or 'F'")
    if int(np.prod(shape, dtype=object)) * dtype.itemsize != memoryview(bufs[0]).nbytes:
        raise PlaceholderError("ndarray buffer size does not match dtype and shape")
    return np.frombuffer(bufs[0], dtype=dtype).reshape(shape, order=order)


def _decode_single(kind):
    def decode(header, bufs):
        if len(bufs) != 1:
            raise PlaceholderError(f"{kind} expects 1 buffer")
        return bytes(bufs[0]).decode("utf-8") if kind == "str" else memoryview(bufs[0])
    return decode


DECODERS = {"ndarray": _decode_ndarray, "bytes": _decode_single("bytes"), "str": _decode_single("str")}


class Resolver:
    """Resolves the placeholders of one received message; no buffer may be claimed twice."""

    def __init__(self, buffers, max_decompressed=4 << 30, decoders=None,
                 max_decompressed_per_message=1 << 30, max_decompression_ratio=64):
        """The limits mirror zsession's `limits` (docs/SECURITY.md): per buffer, over all
        placeholders this resolver resolves, and declared <= ratio * compressed + 1 MiB."""
        self.buffers = list(buffers)
        self.max_decompressed = max_decompressed
        self.max_per_message = max_decompressed_per_message
        self.max_ratio = max_decompression_ratio
        self.decompressed = 0
        self.decoders = dict(DECODERS if decoders is None else decoders)
        self.claimed = set()

    def _claim(self, ph):
        first, count = _uint(ph, "first"), _uint(ph, "count")
        sizes = _list(ph, "sizes", count, int)
        comp = _list(ph, "compression", count, str)
        if first + count > len(self.buffers):
            raise PlaceholderError("placeholder buffer range outside the message")
        idx = range(first, first + count)
        if self.claimed.intersection(idx):
            raise PlaceholderError("buffer claimed twice")
        out = [self._buffer(self.buffers[i], sizes[k], comp[k]) for k, i in enumerate(idx)]
        self.claimed.update(idx)
        return out

    def _buffer(self, buf, size, compression):
        if compression == "none":
            if memoryview(buf).nbytes != size:
                raise PlaceholderError("buffer size does not match the placeholder")
            return buf
        if compression not in ("lz4", "zstd", "blosc"):
            raise CompressionError(f"unknown compression {compression!r}")
        if size > self.max_decompressed:
            raise PlaceholderError("declared size exceeds max_decompressed")
        compressed = memoryview(buf).nbytes
        if size <= compressed * 255 + 16:
            if size > compressed * self.max_ratio + (1 << 20):
                raise PlaceholderError("declared size exceeds max_decompression_ratio")
            if self.decompressed + size > self.max_per_message:
                raise PlaceholderError("declared sizes exceed max_decompressed_per_message")
            self.decompressed += size
        try:
            data = _decompress(compression, buf, size)
        except Exception as e:  # lz4.block.LZ4BlockError
            raise CompressionError(str(e)) from e
        if len(data) != size:
            raise CompressionError("lz4 block does not decompress to its declared size")
        return data

    def resolve(self, ph):
        """The value one placeholder stands for."""
        if ph.get(MARKER) != VERSION:
            raise PlaceholderError("unsupported placeholder version")
        name, header = ph.get("handler"), ph.get("header")
        if not isinstance(name, str) or not isinstance(header, dict):
            raise PlaceholderError("placeholder handler/header of the wrong type")
        if name not in self.decoders:
            raise UnknownHandlerError(f"no handler named {name!r}")
        return self.decoders[name](header, self._claim(ph))

    def walk(self, obj):
        """A copy of obj (dicts/lists) with every placeholder resolved, at any depth."""
        if is_placeholder(obj):
            return self.resolve(obj)
        if isinstance(obj, dict):
            return {k: self.walk(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.walk(v) for v in obj]
        return obj


def resolve(content, buffers, **kwargs):
    """content with every placeholder replaced by its value (see Resolver)."""
    return Resolver(buffers, **kwargs).walk(content)
