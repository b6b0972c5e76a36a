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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from imgbench.errors import StoreError

FOLDER_NAME = ".discarded"
# Disk one repeat of a write cell may take, per image: SIZE_FACTOR times its pixels, and at least
# what a tar sample of a 32x32 raw image takes (three 512-byte blocks beside its 3,072 bytes).
# Measured at 100,000 32x32 images (2026-11-25, `du`): files and LMDB 1.34x the pixels, tar+PNG
# 1.31x, HDF5, raw and LevelDB 1.00-1.01x, SQLite+PNG 0.76x.
SIZE_FACTOR = 1.5
MIN_BYTES_PER_IMAGE = 4608
# After deleting, until creating files is as fast as before: ext4 without a journal skips inodes
# deleted in the last 300 s while their inode table block is dirty (`RECENTCY_DIRTY`,
# fs/ext4/ialloc.c). Writing 100,000 PNG files took 11.1 s, then 16.8, 24.1 and 12.3 s at 0, 120
# and 240 s after deleting 200,000 files (2-core VM, 2026-11-26).
SETTLE_SECONDS = 300.0


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


def repeats_bytes(pixel_bytes: int, count: int, repeats: int) -> int:
    """The most disk `repeats` writes of `count` images holding `pixel_bytes` in all can take."""
    return repeats * max(int(SIZE_FACTOR * pixel_bytes), count * MIN_BYTES_PER_IMAGE)


def free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def make_room(
    folder: Path,
    discarded: Path | None,
    needed: int,
    wait: Callable[[float], None] = time.sleep,
) -> Deleted | None:
    """Before a write cell: see that `folder`'s filesystem has `needed` bytes free. If not,
    delete what earlier timing jobs set aside, then wait `SETTLE_SECONDS` before anything is
    timed, since creating files right after deleting many is slow (module docstring); a
    StoreError saying what to change if that is still not enough, before anything is written.

    Set-aside repeats take up to `repeats.max` - 1 copies of every store until the run's last
    timing job, which can be more than the disk holds when many formats and codecs are measured
    (config/full.yaml); they are deleted early only when the next cell would not fit.
    """
    if free_bytes(folder) >= needed:
        return None
    deleted = delete_all(discarded)
    if deleted.folders:
        os.sync()
        wait(SETTLE_SECONDS)
    free = free_bytes(folder)
    if free < needed:
        after = " after deleting the repeats set aside so far" if deleted.folders else ""
        raise StoreError(
            f"{folder}: this cell's repeats need up to {needed / 1e9:.1f} GB and "
            f"{free / 1e9:.1f} GB is free{after}: free disk space, lower `repeats.max` or the "
            "largest cutoff, or point `stores.folder` at a larger disk"
        )
    return deleted
