"""Stores a timing job no longer needs: set aside at once, deleted after the run's last timing job.

Deleting many files slows creating files for minutes afterwards on ext4 without a journal (each
new inode is checked against recently deleted ones), and with `discard` the deletion's TRIM runs
inside `unlink`. Measured with the fast PNG writer at 100,000 images (docs/measurement.md): 10.7
and 11.0 s into fresh folders, 21.9 s right after deleting 200,000 files (system time 4.8 s ->
24.7 s). Deleting the repeats of a write cell at the cell's end therefore slowed the next cell's
timed writes. A rename frees nothing, so the repeats are moved into one folder per stores folder
and deleted once no timing job is left to disturb.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

FOLDER_NAME = ".discarded"


def folder_for(stores: Mapping[str, object]) -> str | None:
    """Where the timing jobs of config `stores` set aside what they no longer need; None for
    node-local stores, which are deleted at once on the node that wrote them."""
    return None if stores["node_local"] else os.path.join(str(stores["folder"]), FOLDER_NAME)


def set_aside(folder: Path, discarded: Path | None) -> None:
    """Move `folder` into `discarded` to be deleted later, or delete it now if `discarded` is
    None (node-local stores, whose disk no later job of the run can reach)."""
    if discarded is None:
        shutil.rmtree(folder)
        return
    discarded.mkdir(parents=True, exist_ok=True)
    os.replace(folder, tempfile.mkdtemp(prefix=f"{folder.name}.", dir=discarded))


@dataclass(frozen=True)
class Deleted:
    """What `delete_all` deleted and how long it took."""

    folders: int
    files: int
    bytes: int
    seconds: float

    def line(self) -> str:
        return (
            f"deleted {self.folders} folder(s) set aside by timing jobs: {self.files:,} files, "
            f"{self.bytes / 1e9:.2f} GB, in {self.seconds:.1f} s"
        )


def delete_all(discarded: Path | None) -> Deleted:
    """Delete everything set aside in `discarded` (None: nothing was, stores are node-local),
    counting files and bytes in the same walk that deletes them."""
    started = time.perf_counter()
    folders = sorted(discarded.iterdir()) if discarded and discarded.is_dir() else []
    files = size = 0
    for folder in folders:
        for root, subfolders, names in os.walk(folder, topdown=False):
            for name in names:
                path = os.path.join(root, name)
                size += os.lstat(path).st_size
                os.unlink(path)
            files += len(names)
            for name in subfolders:
                path = os.path.join(root, name)
                if os.path.islink(path):  # a link to a folder is listed as one, not followed
                    os.unlink(path)
                else:
                    os.rmdir(path)
        os.rmdir(folder)
    return Deleted(len(folders), files, size, time.perf_counter() - started)
