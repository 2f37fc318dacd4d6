"""Writing results: the one JSON cleaner, the PNG encoder and atomic file writes.

Atomic writes go to a temporary file in the target's directory, fsync, then ``os.replace``: a
reader, a parallel worker or an interrupted run sees either the old complete file or the new one,
never half a file. Used by the run command, the sweeps, the decision maps and the check reports.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from pathlib import Path

import numpy as np


def json_clean(value):
    """``value`` with plain Python types only, ready for ``json.dumps``: non-finite floats become
    None (JSON has no NaN), numpy scalars become Python numbers, numpy arrays and tuples lists."""
    if isinstance(value, np.ndarray):
        return json_clean(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_clean(x) for k, x in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_clean(x) for x in value]
    return value


def figure_png_bytes(fig, dpi: int = 90) -> bytes:
    """PNG bytes of a matplotlib Figure, quantised to a 256-colour palette (plots have few colours;
    this makes the file 2–3x smaller than RGBA)."""
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    buf.seek(0)
    img = Image.open(buf).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    img.save(out, format="png", optimize=True)
    return out.getvalue()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
