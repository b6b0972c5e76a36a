"""Page-cache eviction is checked against the kernel itself: mincore says what really left."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imgbench import pagecache
from imgbench.pagecache import PAGE_SIZE


@pytest.fixture(scope="session")
def evictable_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pytest's temporary folder, if its filesystem lets pages be evicted (not tmpfs)."""
    root = tmp_path_factory.getbasetemp()
    if not pagecache.can_evict(root):
        pytest.skip(f"pages on the filesystem of {root} cannot be evicted (tmpfs or similar)")
    return root


@pytest.fixture
def folder(evictable_root: Path, tmp_path: Path) -> Path:
    """A fresh folder on a filesystem where eviction works (tmp_path shares evictable_root's)."""
    return tmp_path


def written(path: Path, pages: float) -> Path:
    """A file of `pages` pages of random bytes, read back so that all of it is cached."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(int(pages * PAGE_SIZE)))
    path.read_bytes()
    return path


def test_a_read_file_is_resident_and_evicting_it_drops_it(folder: Path) -> None:
    file = written(folder / "store.npy", 16)
    assert pagecache.resident_fraction(file) > 0.9
    assert pagecache.resident_fraction(folder) > 0.9

    pagecache.evict(folder)

    assert pagecache.resident_fraction(file) < 0.1
    assert pagecache.resident_fraction(folder) < 0.1


def test_evicting_dirty_pages_writes_them_back_first(folder: Path) -> None:
    (folder / "dirty.bin").write_bytes(os.urandom(8 * PAGE_SIZE))  # never synced
    assert pagecache.cold(folder) < 0.1


def test_evicting_a_folder_covers_every_file_in_nested_folders(folder: Path) -> None:
    files = [
        written(folder / "data.mdb", 4),
        written(folder / "a" / "0.png", 1.5),
        written(folder / "a" / "1.png", 0.2),
        written(folder / "a" / "b" / "c" / "2.png", 3),
    ]
    assert all(pagecache.resident_fraction(file) > 0.9 for file in files)

    assert pagecache.cold(folder) < 0.1
    assert all(pagecache.resident_fraction(file) < 0.1 for file in files)


def test_loading_reads_only_the_files_not_wholly_cached(folder: Path) -> None:
    cached = written(folder / "cached", 2)
    evicted = written(folder / "a" / "evicted", 8)
    partly = written(folder / "partly", 8)
    pagecache.evict(evicted)
    pagecache.evict(partly)
    descriptor = os.open(partly, os.O_RDONLY)
    try:
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_RANDOM)  # no readahead
        os.pread(descriptor, PAGE_SIZE, 0)  # its first page only
    finally:
        os.close(descriptor)
    assert pagecache.resident_fraction(folder) < 0.5
    assert pagecache.load(folder) == 2  # `cached` is not read again
    assert pagecache.resident_fraction(folder) == 1.0
    assert pagecache.resident_fraction(cached) == 1.0
    assert pagecache.load(folder) == 0


def test_resident_fraction_counts_pages_not_files(folder: Path) -> None:
    big = written(folder / "big", 8)
    written(folder / "small", 0.5)
    pagecache.evict(big)
    assert pagecache.resident_fraction(folder) == pytest.approx(1 / 9)


def test_reading_one_page_of_a_large_file_makes_only_part_of_it_resident(folder: Path) -> None:
    file = written(folder / "large", 64)
    pagecache.evict(file)
    descriptor = os.open(file, os.O_RDONLY)
    try:
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_RANDOM)  # no readahead
        os.pread(descriptor, PAGE_SIZE, 0)
    finally:
        os.close(descriptor)
    assert 1 / 64 <= pagecache.resident_fraction(file) < 0.5


def test_empty_files_and_empty_folders(folder: Path) -> None:
    empty_folder = folder / "empty"
    (empty_folder / "nested").mkdir(parents=True)
    assert pagecache.store_files(empty_folder) == []
    assert pagecache.cold(empty_folder) == 0.0
    pagecache.sync_filesystem(empty_folder)

    only_empty = folder / "only-empty"
    only_empty.mkdir()
    (only_empty / "zero").touch()
    assert pagecache.store_files(only_empty) == [only_empty / "zero"]
    assert pagecache.resident_fraction(only_empty) == 0.0
    assert pagecache.cold(only_empty) == 0.0

    written(only_empty / "one", 1)
    assert pagecache.resident_fraction(only_empty) == 1.0  # the empty file adds no pages


def test_store_files_are_sorted_regular_files_without_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"x")
    store = tmp_path / "store"
    (store / "b").mkdir(parents=True)
    for name in ("b/2", "a", "b/1"):
        (store / name).write_bytes(b"x")
    (store / "link-to-file").symlink_to(outside / "secret")
    (store / "link-to-folder").symlink_to(outside)
    (store / "dangling").symlink_to(tmp_path / "missing")
    os.mkfifo(store / "fifo")

    assert pagecache.store_files(store) == [store / "a", store / "b" / "1", store / "b" / "2"]
    assert pagecache.store_files(store / "a") == [store / "a"]  # a store may be one file


def test_symlinks_inside_a_folder_are_not_followed(folder: Path) -> None:
    outside = written(folder / "outside" / "other-store.bin", 4)
    store = folder / "store"
    written(store / "image.png", 1)
    (store / "link-to-file").symlink_to(outside)
    (store / "link-to-folder").symlink_to(outside.parent)

    assert pagecache.cold(store) < 0.1
    assert pagecache.resident_fraction(outside) > 0.9


def test_a_missing_store_is_an_error_not_an_empty_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        pagecache.resident_fraction(tmp_path / "missing")
    with pytest.raises(FileNotFoundError):
        pagecache.evict(tmp_path / "missing")


def test_sync_filesystem_leaves_no_dirty_page_behind(folder: Path) -> None:
    """After the sync, advice alone (which skips dirty pages) drops every page: all are clean."""
    store = folder / "store"
    for name in ("data.mdb", "a/0.png", "a/b/1.png"):
        (store / name).parent.mkdir(parents=True, exist_ok=True)
        (store / name).write_bytes(os.urandom(8 * PAGE_SIZE))
    pagecache.sync_filesystem(store)
    for file in pagecache.store_files(store):
        descriptor = os.open(file, os.O_RDONLY)
        try:
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(descriptor)
    assert pagecache.resident_fraction(store) < 0.1


def test_sync_filesystem_of_a_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        pagecache.sync_filesystem(tmp_path / "missing")


def test_can_evict_is_false_on_tmpfs_and_leaves_no_probe() -> None:
    shm = Path("/dev/shm")
    mounts = Path("/proc/mounts").read_text().split("\n")
    if not any(line.split()[1:3] == ["/dev/shm", "tmpfs"] for line in mounts if line):
        pytest.skip("no tmpfs mounted at /dev/shm")
    if not os.access(shm, os.W_OK):
        pytest.skip("/dev/shm is not writable")
    before = set(shm.iterdir())
    assert not pagecache.can_evict(shm)
    assert set(shm.iterdir()) == before


def test_can_evict_leaves_no_probe(evictable_root: Path, tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    assert pagecache.can_evict(tmp_path / "store")
    assert pagecache.can_evict(tmp_path / "store" / "not-yet-written")  # probes its folder
    assert list(tmp_path.rglob("*")) == [tmp_path / "store"]


def test_files_another_user_owns_are_refused_not_reported_resident(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For them mincore reports every page resident (Linux 5.0+): a cold read would look warm."""
    file = written(tmp_path / "foreign", 1)
    monkeypatch.setattr(os, "geteuid", lambda: file.stat().st_uid + 1)
    monkeypatch.setattr(os, "access", lambda *arguments, **options: False)
    with pytest.raises(PermissionError, match="owns or may write"):
        pagecache.resident_fraction(file)
