"""Durability, page-cache eviction and page-cache residency for the files of a store.

A cold-cache read is only meaningful if the store's pages really left the page cache, and
`echo 3 > /proc/sys/vm/drop_caches` needs root. Without root, a clean page can be dropped per file
with posix_fadvise(POSIX_FADV_DONTNEED), and mincore(2) tells which pages are still cached, so
every cold measurement can record proof that the eviction worked.

Limits, all checked by experiment with `can_evict` rather than assumed:

* tmpfs (and some overlay or network filesystems) keep pages whatever we advise;
* pages still mapped by a process (an open LMDB environment) are not dropped;
* since Linux 5.0, mincore reports every page as resident for a file the caller neither owns nor
  may write, so `resident_fraction` refuses such files instead of reporting a false 1.0.

Files are handled one at a time, so a store of 100,000 files never holds 100,000 descriptors or
maps, and the walk uses `os.scandir` so that listing costs one `getdents` per folder, not one
`stat` per file.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
PROBE_PAGES = 16

_libc = ctypes.CDLL(None, use_errno=True)
_mmap = _libc.mmap
_mmap.argtypes = [
    ctypes.c_void_p,  # addr
    ctypes.c_size_t,  # length
    ctypes.c_int,  # prot
    ctypes.c_int,  # flags
    ctypes.c_int,  # fd
    ctypes.c_long,  # offset: off_t is a long for the `mmap` symbol on Linux (32- and 64-bit)
]
_mmap.restype = ctypes.c_void_p
_munmap = _libc.munmap
_munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_munmap.restype = ctypes.c_int
_mincore = _libc.mincore
_mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
_mincore.restype = ctypes.c_int
_sync_file_range = _libc.sync_file_range
_sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
_sync_file_range.restype = ctypes.c_int
_syncfs = _libc.syncfs
_syncfs.argtypes = [ctypes.c_int]
_syncfs.restype = ctypes.c_int
_MAP_FAILED = ctypes.c_void_p(-1).value
# SYNC_FILE_RANGE_WAIT_BEFORE | WRITE | WAIT_AFTER: write back every dirty page, wait till clean.
_WRITE_AND_WAIT = 1 | 2 | 4
# mincore sets bit 0 of a vector byte when the page is resident; the other bits are reserved.
_RESIDENT_BIT = bytes(byte & 1 for byte in range(256))


def store_files(path: Path) -> list[Path]:
    """Every regular file under `path` (recursive, sorted), never following symlinks.

    A symlink inside a store could point anywhere (even at another store); evicting or counting
    its target would measure something else. `path` itself may be a single file (a raw .npy).
    """
    return sorted(Path(name) for name in _walk(path)[0])


def sync_filesystem(path: Path) -> None:
    """Make everything written under `path` durable with one syncfs(2) of its filesystem.

    syncfs writes back every dirty page and inode of the filesystem, commits its journal and
    flushes the disk's write cache: afterwards every file, and every name in every folder, under
    `path` is durable. It is how a bulk writer makes many files durable; an fsync per file does the
    same one file at a time, with a journal commit each: 22.6 s against 0.6 s for 100,000 PNG
    files here, on the same data. Other dirty data of the filesystem is flushed too, so callers
    flush everything (`os.sync`) before the write they measure.
    """
    descriptor = os.open(path, os.O_RDONLY)
    try:
        if _syncfs(descriptor) != 0:
            _raise_errno("syncfs", str(path))
    finally:
        os.close(descriptor)


def evict(path: Path) -> None:
    """Drop `path`'s files from the OS page cache without root.

    For each file: write back its dirty pages and wait, because dirty pages cannot be dropped,
    then posix_fadvise(POSIX_FADV_DONTNEED). The write-back is sync_file_range(2), not fsync:
    eviction needs clean pages, not durability, and an fsync of even a clean file flushes the
    disk's write cache (80 us a file here: 9 s for 100,000 files, against 0.7 s). Use
    `sync_filesystem` for durability. Pages some process still maps stay cached, so callers
    close their readers (LMDB environments) first.
    """
    for name in _walk(path)[0]:
        descriptor = os.open(name, os.O_RDONLY)
        try:
            if _sync_file_range(descriptor, 0, 0, _WRITE_AND_WAIT) != 0:
                _raise_errno("sync_file_range", name)
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(descriptor)


def resident_fraction(path: Path) -> float:
    """Fraction (0..1) of the pages of `path`'s files that are in the page cache.

    Measured with mincore(2) on a read-only shared map of each non-empty file, made with libc's
    mmap through ctypes because Python's mmap module exposes no address for a read-only map.
    Mapping does not read the file, so measuring does not change what it measures. Empty files
    have no pages; a folder without pages gives 0.0.
    """
    resident = total = 0
    for _, pages, cached in _residency(path):
        resident += cached
        total += pages
    return resident / total if total else 0.0


def load(path: Path) -> int:
    """Read into the page cache every file of `path` that is not wholly in it; return how many.

    A warm read needs the whole store cached, and reading only the missing files costs far less
    than reading the store again through its format (100,000 PNG files: 22 s through Pillow).
    Machines that reclaim memory proactively drop pages a minute after their last use
    (docs/measurement.md), so a store built minutes earlier is rarely still wholly cached.
    """
    loaded = 0
    buffer = bytearray(1 << 20)
    for descriptor, pages, cached in _residency(path):
        if cached < pages:
            while os.readv(descriptor, [buffer]):
                pass
            loaded += 1
    return loaded


def cold(path: Path) -> float:
    """Evict `path` and return its resident fraction: the proof a cold-cache measurement records."""
    evict(path)
    return resident_fraction(path)


def can_evict(path: Path) -> bool:
    """Whether pages on `path`'s filesystem can be evicted and the eviction seen, by experiment.

    Writes a probe file of a few pages in `path` (in its parent if `path` is no folder), checks
    that it is resident, evicts it and checks that at most half of it is left. Filesystem types
    and mount options do not say this reliably (tmpfs, overlays, FUSE), an experiment does.
    Errors creating the probe (a read-only folder) are raised, not reported as False.
    """
    folder = path if path.is_dir() else path.parent
    handle, name = tempfile.mkstemp(prefix=".pagecache-probe-", dir=folder)
    probe = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(os.urandom(PROBE_PAGES * PAGE_SIZE))
        probe.read_bytes()
        if resident_fraction(probe) < 0.5:
            return False  # mincore does not see this filesystem's cache: no proof is possible
        return cold(probe) < 0.5
    finally:
        probe.unlink(missing_ok=True)


def _walk(path: Path) -> tuple[list[str], list[str]]:
    """The regular files and the folders under `path`, symlinks and special files skipped.

    Paths are plain strings: building 100,000 `Path` objects would cost more than evicting.
    """
    root = os.fspath(path)
    mode = os.stat(root).st_mode
    if stat.S_ISREG(mode):
        return [root], []
    if not stat.S_ISDIR(mode):
        return [], []
    files: list[str] = []
    folders = [root]
    pending = [root]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                    pending.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    files.append(entry.path)
    return files, folders


def _residency(path: Path) -> Iterator[tuple[int, int, int]]:
    """Descriptor, pages and cached pages of each non-empty file under `path`, one file open at
    a time (the descriptor is closed once the caller moves on)."""
    for name in _walk(path)[0]:
        descriptor = os.open(name, os.O_RDONLY)
        try:
            status = os.fstat(descriptor)
            if status.st_size == 0:
                continue
            _check_mincore_allowed(name, status)
            pages = -(-status.st_size // PAGE_SIZE)
            yield descriptor, pages, _resident_pages(name, descriptor, status.st_size, pages)
        finally:
            os.close(descriptor)


def _check_mincore_allowed(name: str, status: os.stat_result) -> None:
    """Refuse files for which the kernel (5.0+) makes mincore report every page as resident."""
    if status.st_uid == os.geteuid() or os.geteuid() == 0:
        return
    if not os.access(name, os.W_OK, effective_ids=os.access in os.supports_effective_ids):
        raise PermissionError(
            f"cannot measure page-cache residency of {name}: mincore only tells the truth for "
            "files the current user owns or may write"
        )


def _resident_pages(name: str, descriptor: int, size: int, pages: int) -> int:
    address = _mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, descriptor, 0)
    if address == _MAP_FAILED:
        _raise_errno("mmap", name)
    try:
        vector = ctypes.create_string_buffer(pages)
        if _mincore(address, size, vector) != 0:
            _raise_errno("mincore", name)
        return vector.raw.translate(_RESIDENT_BIT).count(1)
    finally:
        if _munmap(address, size) != 0:
            _raise_errno("munmap", name)


def _raise_errno(call: str, name: str) -> None:
    number = ctypes.get_errno()
    raise OSError(number, f"{call}: {os.strerror(number)}", name)
