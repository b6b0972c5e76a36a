"""The synthetic archive must be a drop-in for the real CIFAR-10 python archive (same members, same
pickle format), reproducible to the byte, written atomically, and photo-like enough that image
stores are benchmarked on realistic data."""

import hashlib
import io
import pickle
import pickletools
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgbench.synthetic import (
    ARCHIVE_FOLDER,
    LABEL_NAMES,
    TRAIN_BATCHES,
    synthetic_images,
    write_synthetic_archive,
)

TRAIN = 103  # not a multiple of 5, so the batches differ in size (21, 21, 21, 20, 20)
SEED = 7
FILES = [*TRAIN_BATCHES, "test_batch", "batches.meta", "readme.html"]
NUMPY_GLOBALS = {
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("synthetic") / "cifar-10-python.tar.gz"
    return path, write_synthetic_archive(path, TRAIN, SEED)


@pytest.fixture(scope="module")
def contents(archive: tuple[Path, str]) -> dict[str, bytes]:
    with tarfile.open(archive[0], "r:gz") as tar:
        return {
            m.name.removeprefix(f"{ARCHIVE_FOLDER}/"): tar.extractfile(m).read()
            for m in tar.getmembers()
            if m.isfile()
        }


def load(payload: bytes) -> dict:
    return pickle.load(io.BytesIO(payload), encoding="bytes")


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def pickle_globals(payload: bytes) -> list[tuple[str, str]]:
    """Every (module, name) a pickle imports, following the strings STACK_GLOBAL takes from the
    stack, including ones fetched back from the memo."""
    found, pushed, memo = [], [], {}
    for op, arg, _ in pickletools.genops(payload):
        if op.name in {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"}:
            pushed.append(arg)
        elif op.name == "MEMOIZE":
            memo[len(memo)] = pushed[-1]
        elif op.name in {"PUT", "BINPUT", "LONG_BINPUT"}:
            memo[arg] = pushed[-1]
        elif op.name in {"GET", "BINGET", "LONG_BINGET"}:
            pushed.append(memo[arg])
        elif op.name == "STACK_GLOBAL":
            found.append((pushed[-2], pushed[-1]))
            pushed.append(None)
        elif op.name == "GLOBAL":
            found.append(tuple(arg.split(" ", 1)))
            pushed.append(None)
        else:
            pushed.append(None)
    return found


def test_members_match_the_real_layout(archive: tuple[Path, str]) -> None:
    with tarfile.open(archive[0], "r:gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == [ARCHIVE_FOLDER] + [f"{ARCHIVE_FOLDER}/{f}" for f in FILES]
    assert members[0].isdir() and members[0].mode == 0o755
    for m in members[1:]:
        assert m.isfile() and m.mode == 0o644
    for m in members:
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname) == (0, 0, 0, "", "")
        assert not m.pax_headers


def test_training_batches_hold_the_requested_images_in_order(contents: dict[str, bytes]) -> None:
    images, labels = synthetic_images(TRAIN, SEED)
    batches = [load(contents[name]) for name in TRAIN_BATCHES]
    sizes = [len(b[b"labels"]) for b in batches]
    assert sizes == [len(part) for part in np.array_split(np.arange(TRAIN), 5)]
    names = []
    for i, batch in enumerate(batches, start=1):
        assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
        assert batch[b"batch_label"] == f"training batch {i} of 5".encode()
        data = batch[b"data"]
        assert data.dtype == np.uint8 and data.flags.c_contiguous
        assert data.shape == (len(batch[b"labels"]), 3072)
        assert all(type(label) is int and 0 <= label <= 9 for label in batch[b"labels"])
        assert all(isinstance(name, bytes) for name in batch[b"filenames"])
        names += batch[b"filenames"]
    assert names[0] == b"synthetic_000001.png" and len(set(names)) == TRAIN
    data = np.concatenate([b[b"data"] for b in batches])
    np.testing.assert_array_equal(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), images)
    assert sum((b[b"labels"] for b in batches), []) == labels.tolist()


def test_test_batch_is_a_further_stream(contents: dict[str, bytes]) -> None:
    batch = load(contents["test_batch"])
    train = load(contents["data_batch_1"])
    assert batch[b"batch_label"] == b"testing batch 1 of 1"
    assert batch[b"data"].shape == (TRAIN // 5, 3072) and batch[b"data"].dtype == np.uint8
    assert len(batch[b"labels"]) == len(batch[b"filenames"]) == TRAIN // 5
    assert batch[b"filenames"][0] == f"synthetic_{TRAIN + 1:06d}.png".encode()
    assert not np.array_equal(batch[b"data"], train[b"data"][: TRAIN // 5])


def test_meta_and_readme(contents: dict[str, bytes]) -> None:
    meta = load(contents["batches.meta"])
    assert meta == {
        b"label_names": [name.encode() for name in LABEL_NAMES],
        b"num_cases_per_batch": 21,
        b"num_vis": 3072,
    }
    assert LABEL_NAMES[0] == "airplane" and LABEL_NAMES[-1] == "truck" and len(LABEL_NAMES) == 10
    readme = contents["readme.html"].decode()
    assert "synthetic" in readme and "imgbench" in readme and f"seed {SEED}" in readme


def test_pickles_import_only_numpy_array_reconstruction(contents: dict[str, bytes]) -> None:
    for name in [*TRAIN_BATCHES, "test_batch"]:
        assert set(pickle_globals(contents[name])) == NUMPY_GLOBALS, name
    assert pickle_globals(contents["batches.meta"]) == []


def test_same_arguments_give_the_same_bytes(tmp_path: Path) -> None:
    digests = [write_synthetic_archive(tmp_path / f"{i}.tar.gz", 20, 3) for i in range(2)]
    other = write_synthetic_archive(tmp_path / "other.tar.gz", 20, 4)
    assert digests[0] == digests[1] == md5(tmp_path / "0.tar.gz") == md5(tmp_path / "1.tar.gz")
    assert other == md5(tmp_path / "other.tar.gz") != digests[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.tar.gz", "1.tar.gz", "other.tar.gz"]


def test_synthetic_images_are_deterministic_across_chunks() -> None:
    images, labels = synthetic_images(1200, 5)  # more than one rendering chunk
    assert images.shape == (1200, 32, 32, 3) and images.dtype == np.uint8
    assert labels.shape == (1200,) and labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() <= 9 and len(np.unique(labels)) == 10
    again = synthetic_images(1200, 5)
    np.testing.assert_array_equal(images, again[0])
    np.testing.assert_array_equal(labels, again[1])
    assert not np.array_equal(images[:50], synthetic_images(50, 6)[0])


def test_images_compress_and_correlate_like_photos() -> None:
    images, _ = synthetic_images(200, 0)
    sizes = []
    for image in images:
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG")
        sizes.append(buf.tell())
    assert 1500 <= np.mean(sizes) <= 3000

    pixels = images.astype(np.float32)
    neighbours = np.abs(pixels[:, :, 1:] - pixels[:, :, :-1]).mean()
    flat = pixels.reshape(len(pixels), -1, 3)
    shuffled = flat[:, np.random.default_rng(0).permutation(flat.shape[1])]
    random_pairs = np.abs(flat - shuffled).mean()
    assert random_pairs > 20  # not flat colour
    assert neighbours < 0.35 * random_pairs  # pure noise would give about 1.0


def test_rejects_fewer_than_five_training_images(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 5"):
        write_synthetic_archive(tmp_path / "a.tar.gz", 4, 0)
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_raises_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_synthetic_archive(tmp_path / "missing" / "a.tar.gz", 10, 0)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("existing", [False, True])
def test_failure_mid_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    path = tmp_path / "a.tar.gz"
    if existing:
        path.write_bytes(b"previous archive")
    real_addfile = tarfile.TarFile.addfile
    seen_during_write = []

    def failing_addfile(self: tarfile.TarFile, tarinfo: tarfile.TarInfo, fileobj=None) -> None:
        if tarinfo.name.endswith("data_batch_3"):
            seen_during_write.extend(tmp_path.iterdir())
            raise OSError("disk full")
        real_addfile(self, tarinfo, fileobj)

    monkeypatch.setattr(tarfile.TarFile, "addfile", failing_addfile)
    with pytest.raises(OSError, match="disk full"):
        write_synthetic_archive(path, 10, 0)
    assert any(p.name.endswith(".tmp") for p in seen_during_write)  # it failed mid-write
    if existing:
        assert list(tmp_path.iterdir()) == [path]
        assert path.read_bytes() == b"previous archive"
    else:
        assert list(tmp_path.iterdir()) == []
