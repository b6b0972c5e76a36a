"""Checksums of files and store folders, so two runs can tell whether they used the same bytes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from fnmatch import fnmatch
from pathlib import Path


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in blocks (a 163 MB archive never sits in memory twice). The
    digests identify data, they protect nothing: MD5 stays usable on FIPS systems."""
    with path.open("rb") as source:
        new = lambda: hashlib.new(algorithm, usedforsecurity=False)  # noqa: E731
        return hashlib.file_digest(source, new).hexdigest()


def files_sha256(root: Path, paths: Iterable[Path]) -> str:
    """One SHA-256 over the relative path and contents of each file, in path order."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(f"{path.relative_to(root).as_posix()}\0{file_digest(path)}\n".encode())
    return digest.hexdigest()


def tree_sha256(folder: Path, ignore: Iterable[str] = ()) -> str:
    """One SHA-256 over every file below `folder`, so two folders compare by one string; `ignore`
    holds name patterns (`fnmatch`) of files that hold run-time state rather than data (a lock
    file, the manifest LevelDB rewrites on every open)."""
    patterns = list(ignore)
    files = (
        path
        for path in folder.rglob("*")
        if path.is_file() and not any(fnmatch(path.name, pattern) for pattern in patterns)
    )
    return files_sha256(folder, files)
