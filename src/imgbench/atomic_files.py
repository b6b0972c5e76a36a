"""Writing an output so that it appears whole or not at all: every job's files go through here."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path` that is renamed to `path` only if the block succeeds.

    A crash or an error therefore never leaves a half-written file under the final name.
    """
    with _temporary_sibling(path) as temporary:
        yield temporary
        os.replace(temporary, path)


@contextmanager
def exclusive_path(path: Path) -> Iterator[Path]:
    """Like `atomic_path`, but the finished file is linked into place only if `path` does not
    exist yet (FileExistsError otherwise), so an existing file is never replaced, even by a
    concurrent writer."""
    with _temporary_sibling(path) as temporary:
        yield temporary
        os.link(temporary, path)


@contextmanager
def _temporary_sibling(path: Path) -> Iterator[Path]:
    """A new empty file beside `path` (same filesystem, so it can be renamed or linked into
    place), removed when the block ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes files private; outputs are not
    temporary_path = Path(temporary)
    try:
        yield temporary_path
    finally:
        temporary_path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_rows(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> None:
    """A CSV table with exactly `columns`, written atomically, so a failed job leaves none."""
    with atomic_path(path) as partial, partial.open("w", newline="") as sink:
        writer = csv.DictWriter(sink, fieldnames=list(columns), extrasaction="raise")
        writer.writeheader()
        writer.writerows(rows)


def write_json(path: Path, record: Mapping[str, object]) -> None:
    """A JSON record, written atomically."""
    with atomic_path(path) as partial:
        partial.write_text(json.dumps(record, indent=1) + "\n")


RENAME_EXCHANGE = 2  # renameat2's flag (linux/fs.h)


def exchange(first: Path, second: Path) -> None:
    """Swap two existing paths (folders included) in one step with Linux's
    `renameat2(RENAME_EXCHANGE)`, so each name always names one of them: how a rewritten folder
    replaces the old one, which `os.replace` cannot do for a non-empty folder. Where the kernel,
    filesystem or C library lacks it, an OSError (nothing was moved)."""
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        raise OSError(f"cannot swap {first} and {second}: this C library has no renameat2")
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), RENAME_EXCHANGE)
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"cannot swap {first} and {second}: {os.strerror(errno)}")
