"""Atomic file writes: a file under its real name is always complete, and a failed write is one clear error."""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterator

from msgan.errors import MsganError

TMP_PREFIX = ".tmp-"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside `path`; on success move it into place, on failure delete it.

    The temporary name keeps the suffix (some writers append one otherwise) but starts with
    '.tmp-', so no glob for real files (`Generator*.ckpt`, `*.png`) ever sees a half-written file.
    A write that fails for lack of space or permission becomes one MsganError naming the file.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TMP_PREFIX}{path.stem}-", suffix=path.suffix)
    except OSError as err:
        raise write_error(path, err) from err
    os.close(fd)
    try:
        yield tmp
        # mkstemp makes 0600, and ms.export and save_checkpoint leave their files 0400 (so that `rm -r` of a run
        # asked about every checkpoint): give the file the permissions open() would
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        raise write_error(path, err) from err
    finally:
        # MindSpore's save_checkpoint writes through its own '<name>.tmp' beside ours and leaves it on failure.
        for leftover in (Path(tmp), Path(tmp).with_suffix(".tmp")):
            if leftover.exists():
                leftover.unlink()


def write_error(path: Path, err: OSError) -> MsganError:
    """The one-line message for a file that could not be written."""
    return MsganError(f"cannot write {path} ({err.strerror or err}): free some disk space, "
                      "or choose an output folder you can write to")


def remove_leftovers(folder: Path) -> None:
    """Delete the temporary files of writes that a killed process never finished."""
    for leftover in folder.rglob(f"{TMP_PREFIX}*"):
        if leftover.is_file():
            leftover.unlink()


@contextlib.contextmanager
def quiet_logging() -> Iterator[None]:
    """Silence log records (MindSpore logs a CRITICAL line beside the exception it raises for a failed
    save), so that the user sees msgan's one error line alone."""
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
