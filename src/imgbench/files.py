"""File helpers shared by every step that writes an output."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
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


def file_sha256(path: Path) -> str:
    with path.open("rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


def tree_sha256(folder: Path, ignore: Iterable[str] = ()) -> str:
    """One SHA-256 over every file's relative path and contents, so two folders compare by one
    string; `ignore` names files that hold run-time state rather than data (e.g. a lock file)."""
    skipped = set(ignore)
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in skipped):
        digest.update(f"{path.relative_to(folder).as_posix()}\0{file_sha256(path)}\n".encode())
    return digest.hexdigest()
