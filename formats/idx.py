"""IDX files (the MNIST format): a magic number, big-endian dims, raw big-endian data; plain or gzip."""

import gzip
import struct
from pathlib import Path

import numpy as np

# IDX type codes: https://yann.lecun.com/exdb/mnist/ (multi-byte types are big-endian).
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Read an IDX file (plain or gzip) into an array of its declared dtype and dims.

    Raises ValueError naming the file for a bad magic number, unknown type code, or a
    payload whose size does not match the header.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as err:
        raise ValueError(f"{path}: not a readable IDX file ({err})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: bad IDX magic number {raw[:4].hex()!r}")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(f"{path}: bad IDX header (type code 0x{code:02x}, {ndim} dims)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{path}: IDX dims {dims} need {expected} data bytes, file has {len(raw) - header}")
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=False)

