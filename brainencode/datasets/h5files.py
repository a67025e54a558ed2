"""HDF5 files written whole or not at all: under a temporary name, renamed when complete; a
failed write (a full disk, a file-size limit) removes the file and is one OSError naming the
file and its errno (HDF5's own error names the temporary file and is several lines long)."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import h5py


@contextlib.contextmanager
def writing(path: str | Path) -> Iterator[h5py.File]:
    """``with writing(path) as f:`` fill ``f``; it becomes ``path`` when the block ends."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    with _stderr_kept() as drop:
        f = h5py.File(tmp, "w")
        try:
            yield f
            f.close()
        except OSError as exc:
            code = exc.errno or _errno_in(str(exc))
            with contextlib.suppress(Exception):
                f.close()
            tmp.unlink(missing_ok=True)
            drop()
            raise OSError(code, os.strerror(code), str(path)) from None
        except BaseException:
            with contextlib.suppress(Exception):
                f.close()
            tmp.unlink(missing_ok=True)
            raise
    tmp.replace(path)


@contextlib.contextmanager
def _stderr_kept() -> Iterator:
    """Hold what is written to file descriptor 2 while HDF5 writes, and pass it on afterwards,
    unless ``drop()`` was called: after a failed write, h5py's handles fail again as they are
    freed and print a traceback each from C (not through Python's hooks), repeating the error
    that is raised once."""
    sys.stderr.flush()
    saved = os.dup(2)
    held = tempfile.TemporaryFile()
    os.dup2(held.fileno(), 2)
    dropped = []
    try:
        yield lambda: dropped.append(True)
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        held.seek(0)
        kept = b"" if dropped else held.read()
        held.close()
        if kept:
            os.write(2, kept)


def _errno_in(message: str) -> int:
    """HDF5 reports a failed write as text ('errno = 28'), not always as OSError.errno."""
    match = re.search(r"errno = (\d+)", message)
    return int(match[1]) if match else errno.EIO
