"""Files written so that a failure never leaves half of one: write beside the target, then rename.

Every output of landalloc (run directories, reports, sweep tables, store exports) goes through
these, so a killed process leaves the previous file or the new one, never a mix or a stray temp file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from optimizer.engine.errors import InputError


def sha256_file(path: str | Path) -> str:
    """The sha256 of a file, read in chunks (inputs can be large GeoPackages)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[Path], None], suffix: str = ".tmp") -> Path:
    """Call ``write(tmp)`` on a temporary sibling of ``path`` and rename it over ``path``; on any
    failure the temporary file is removed and ``path`` is untouched. ``suffix`` keeps the extension
    a writer may need to pick its format (``.gpkg``, ``.png``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}{suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    return atomic_write(path, write)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_dir_atomically(out: Path, fill: Callable[[Path], None], marker: str) -> Path:
    """Fill a temporary sibling directory with ``fill(tmp)`` and rename it over ``out``. An existing
    ``out`` is replaced only if it holds ``marker`` (landalloc wrote it), never a directory of other
    files; it is moved aside first and deleted only once the new directory is in place."""
    out = Path(out).absolute()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / marker).exists())):
        raise InputError(str(out), None, f"exists and was not written by landalloc (no {marker}); refusing to replace it",
                         "choose another --out directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        fill(tmp)
        fsync_dir(tmp)
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(out, old)
        os.rename(tmp, out)
        fsync_dir(out.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
