"""The IDX file format of MNIST and Fashion-MNIST: a reader and the lookup of a split's two files.

Nothing is downloaded: the files must already be in ``data_dir`` (or torchvision's
``<data_dir>/MNIST/raw`` layout), raw or gzip-compressed.
"""

from __future__ import annotations

import functools
import gzip
import math
import os
import struct
import zlib

import numpy as np

#: torchvision's folder name for each family, searched under ``data_dir`` too.
TORCHVISION_DIRS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_IDX_STEMS = {
    ("train", "images"): ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    ("train", "labels"): ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    ("test", "images"): ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    ("test", "labels"): ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse an IDX file (raw or gzip-compressed) into a numpy array of native byte order.

    Format (yann.lecun.com/exdb/mnist): magic number = two zero bytes, a dtype code
    (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64) and ndim; then
    ndim big-endian uint32 sizes; then the data, big-endian, C order. gzip is detected by its own
    magic bytes, so the file name does not matter.

    Raises
    ------
    FileNotFoundError : no file at ``path``.
    ValueError : corrupt gzip stream, bad magic number, unknown dtype code, truncated header or
        data, or trailing bytes; the message names ``path``.
    """
    path = os.fspath(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: corrupt gzip stream ({exc})") from None
    if len(raw) < 4:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, need at least 4)")
    if raw[0] != 0 or raw[1] != 0:
        magic = int.from_bytes(raw[:4], "big")
        raise ValueError(f"{path}: bad IDX magic number 0x{magic:08x}, must start with two zero bytes")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02x}" for c in _IDX_DTYPES)
        raise ValueError(f"{path}: unknown IDX dtype code 0x{code:02x}, must be one of {known}")
    if ndim == 0:
        raise ValueError(f"{path}: IDX header has ndim == 0, must be >= 1")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, ndim == {ndim} needs "
                         f"{header_len})")
    shape = struct.unpack(f">{ndim}I", raw[4:header_len])
    dtype = _IDX_DTYPES[code]
    count = math.prod(shape)
    expected, found = count * dtype.itemsize, len(raw) - header_len
    if found < expected:
        raise ValueError(f"{path}: truncated IDX data: shape {shape} of {dtype} needs {expected} bytes, "
                         f"found {found}")
    if found > expected:
        raise ValueError(f"{path}: {found - expected} trailing bytes after IDX data of shape {shape}")
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=header_len).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


@functools.lru_cache(maxsize=8)
def _read_idx_cached(path: str, mtime_ns: int, size: int) -> np.ndarray:
    arr = read_idx(path)
    arr.setflags(write=False)
    return arr


def _find_idx_file(data_dir: str, family: str, split: str, kind: str) -> str:
    dirs = [data_dir, os.path.join(data_dir, TORCHVISION_DIRS[family], "raw")]
    candidates = [os.path.join(folder, stem + ext) for folder in dirs
                  for stem in _IDX_STEMS[(split, kind)] for ext in ("", ".gz")]
    for c in candidates:
        if os.path.isfile(c):
            return c
    raise ValueError(f"data_dir == {data_dir!r}: no {split} {kind} IDX file for {family!r}; looked for "
                     f"{candidates[0]} (also .gz, the '.idx' spelling and {dirs[1]}); nothing is "
                     f"downloaded, place the IDX files there yourself")


def load_idx_split(data_dir: str, family: str, split: str) -> tuple[np.ndarray, np.ndarray, list]:
    paths = [_find_idx_file(data_dir, family, split, kind) for kind in ("images", "labels")]
    images, labels = (_read_idx_cached(p, os.stat(p).st_mtime_ns, os.stat(p).st_size) for p in paths)
    if images.dtype != np.uint8 or images.ndim not in (2, 3):
        raise ValueError(f"{paths[0]}: expected uint8 images of ndim 3 (n, rows, cols), got "
                         f"{images.dtype} of shape {images.shape}")
    if labels.ndim != 1:
        raise ValueError(f"{paths[1]}: expected labels of ndim 1, got shape {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{paths[0]} has {len(images)} images but {paths[1]} has {len(labels)} labels")
    return images.reshape(len(images), -1), labels.astype(np.int64), paths


