"""Files written so that a failure never leaves half of one: write beside the target, then rename.

Every output of landalloc (run directories, reports, sweep tables, store exports) goes through
these, so a killed process leaves the previous file or the new one, never a mix or a stray temp file.
A full disk or an unwritable place is the planner's to fix, not a bug: it becomes an
:class:`InputError` naming the path (exit 2), and the target is untouched. What this process has
written so far is kept (:func:`written_since`), so an interrupted command can say truthfully what it
wrote.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from optimizer.engine.errors import InputError

_WRITTEN: list[Path] = []
"""every file and directory this process has put in place, in order"""

RESOURCE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}
_RESOURCE_TEXT = ("no space left", "disk is full", "disk full", "file too large", "read-only file system",
                  "permission denied", "quota exceeded")


def written_since(mark: int = 0) -> list[Path]:
    """Paths this process put in place since ``len(written_since())`` was ``mark``."""
    return _WRITTEN[mark:]


PROBE_BYTES = 4 << 20
"""how much a failed write's directory must still take for the failure to be landalloc's, not the disk's"""


def _cannot_take(directory: Path, size: int = PROBE_BYTES) -> str | None:
    """What the system says when ``directory`` cannot take ``size`` more bytes (None: it can)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".landalloc-room-", dir=directory)
    except OSError as e:
        return e.strerror or str(e)
    try:
        with os.fdopen(fd, "wb") as f:
            for _ in range(max(size >> 20, 1)):
                f.write(bytes(1 << 20))
            f.flush()
            os.fsync(f.fileno())
        return None
    except OSError as e:
        return e.strerror or str(e)
    finally:
        os.unlink(probe)


def resource_fault(e: BaseException, directory: Path) -> str | None:
    """Why a write into ``directory`` failed when it is the place's fault (full disk, quota, file size limit,
    read-only, no permission), else None: the OSError's errno, the text GDAL or SQLite put in theirs — or,
    since GDAL does not always pass the system's error on ("no such table: gpkg_contents" on a full disk),
    a probe: the directory cannot take a few more megabytes."""
    if isinstance(e, InputError) or not isinstance(e, Exception):
        return None
    if isinstance(e, OSError) and e.errno in RESOURCE_ERRNOS:
        return e.strerror or str(e)
    text = str(e).lower()
    return next((t for t in _RESOURCE_TEXT if t in text), None) or _cannot_take(_existing_ancestor(directory))


def fault_error(path: Path, why: str) -> InputError:
    """A resource fault as the planner's error: the path, what the system said, the room left there."""
    try:
        room = f"; {_mb(shutil.disk_usage(_existing_ancestor(path)).free)} free there"
    except OSError:
        room = ""
    return InputError(str(path), None, f"cannot write: {why}{room}",
                      "free space on that disk, or choose a writable place with room (e.g. another --out)")


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _existing_ancestor(path: Path) -> Path:
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


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


@contextlib.contextmanager
def faults_named(target: Path, undo: Callable[[], None] = lambda: None):
    """Run the block; on any failure ``undo`` it (remove what it half-wrote) and turn a full disk or an
    unwritable place into the :class:`InputError` naming ``target`` (anything else propagates)."""
    try:
        yield
    except BaseException as e:
        undo()
        why = resource_fault(e, target.parent)
        if why:
            raise fault_error(target, why) from None
        raise


def atomic_write(path: str | Path, write: Callable[[Path], None], suffix: str = ".tmp") -> Path:
    """Call ``write(tmp)`` on a temporary sibling of ``path`` and rename it over ``path``; on any
    failure the temporary file is removed and ``path`` is untouched. ``suffix`` keeps the extension
    a writer may need to pick its format (``.gpkg``, ``.png``)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}{suffix}")
    with faults_named(path, lambda: tmp.unlink(missing_ok=True)):
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    _WRITTEN.append(path)
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


def check_replaceable(out: Path, marker: str) -> None:
    """``out`` may be (re)written: it does not exist, is empty, or holds ``marker`` (landalloc wrote it)."""
    out = Path(out).absolute()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / marker).exists())):
        raise InputError(str(out), None, f"exists and was not written by landalloc (no {marker}); refusing to replace it",
                         "choose another --out directory")


def check_writable(out: Path, needed: int) -> None:
    """Before long work whose result goes to ``out``: the place can be created and written (a probe file
    beside it, so read-only mounts and missing rights show now, not after the solve) and its disk has
    ``needed`` bytes free."""
    out = Path(out).absolute()
    base = _existing_ancestor(out.parent)
    if not base.is_dir():
        raise InputError(str(out), None, f"cannot be created: {base} is a file, not a directory",
                         "choose another --out directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.probe-", dir=base)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise InputError(str(out), None, f"cannot write in {base}: {e.strerror or e}",
                         "choose a directory you can write to (e.g. another --out)") from None
    free = shutil.disk_usage(base).free
    if free < needed:
        raise InputError(str(out), None, f"not enough room: {_mb(free)} free on the disk holding it, "
                         f"about {_mb(needed)} needed", "free space on that disk, or choose another --out")


def write_dir_atomically(out: Path, fill: Callable[[Path], None], marker: str) -> Path:
    """Fill a temporary sibling directory with ``fill(tmp)`` and rename it over ``out``. An existing
    ``out`` is replaced only if it holds ``marker`` (landalloc wrote it), never a directory of other
    files; it is moved aside first and deleted only once the new directory is in place. A full disk or
    an unwritable place is an :class:`InputError` naming ``out``; ``out`` is then untouched."""
    out = Path(out).absolute()
    check_replaceable(out, marker)
    with faults_named(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    with faults_named(out, lambda: shutil.rmtree(tmp, ignore_errors=True)):
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
    _WRITTEN.append(out)
    return out
