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
