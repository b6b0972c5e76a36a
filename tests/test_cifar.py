"""The CIFAR path treats every input as untrusted: checksums, archives, pickles, batches."""

from __future__ import annotations

import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from imgbench import batches, cifar
from imgbench.errors import ArchiveError, ChecksumError, DatasetError, UnsafePickleError
from imgbench.pool import Pool
from imgbench.synthetic import synthetic_images

FOLDER = cifar.ARCHIVE_FOLDER


# --- restricted unpickler -------------------------------------------------------------------


class Hostile:
    """Pickles to a call of `function(*arguments)` when loaded by a naive unpickler."""

    def __init__(self, function, *arguments) -> None:
        self.function, self.arguments = function, arguments

    def __reduce__(self):
        return self.function, self.arguments


def hostile_payloads(marker: Path) -> dict[str, bytes]:
    import builtins
    import subprocess

    command = f"touch {marker}"
    return {
        "os.system": pickle.dumps({b"data": Hostile(os.system, command)}),
        "builtins.eval": pickle.dumps(Hostile(builtins.eval, f"open({str(marker)!r}, 'w')")),
        "subprocess.Popen": pickle.dumps(Hostile(subprocess.Popen, ["touch", str(marker)])),
    }


@pytest.mark.parametrize("payload", ["os.system", "builtins.eval", "subprocess.Popen"])
def test_hostile_pickle_is_refused_before_it_runs(payload: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = hostile_payloads(marker)[payload]
    with pytest.raises(UnsafePickleError, match="refused to load global"):
        batches.load_pickle(io.BytesIO(hostile), "data_batch_1")
    assert not marker.exists()


def test_hostile_batch_in_an_archive_never_runs(tmp_path: Path) -> None:
    """Through the real extract and pool steps, not just the unpickler."""
    marker = tmp_path / "pwned"
    members = {name: pickle.dumps({}) for name in cifar.ARCHIVE_MEMBERS}
    members["data_batch_1"] = hostile_payloads(marker)["os.system"]
    archive = make_archive(tmp_path / "a.tar.gz", members)
    cifar.extract_archive(archive, tmp_path / "batches")
    with pytest.raises(UnsafePickleError, match="data_batch_1"):
        batches.build_pool(tmp_path / "batches", tmp_path / "pool.npz")
    assert not marker.exists()
    assert not (tmp_path / "pool.npz").exists()


def batch(count: int = 4, **overrides: object) -> dict:
    pixels, labels = synthetic_images(count, seed=1)
    content = {
        b"batch_label": b"training batch 1 of 5",
        b"labels": labels.tolist(),
        b"data": pixels.transpose(0, 3, 1, 2).reshape(count, 3072),
        b"filenames": [b"x.png"] * count,
    }
    return {**content, **{key.encode(): value for key, value in overrides.items()}}


def test_python2_style_numpy_names_load(tmp_path: Path) -> None:
    """The real archive was pickled by old NumPy, which names `numpy.core.multiarray`."""
    content = pickle.dumps(batch(), protocol=3)  # GLOBAL opcodes name modules as plain text
    new_name, old_name = b"numpy._core.multiarray", b"numpy.core.multiarray"
    old_style = content.replace(new_name, old_name)
    assert old_name in old_style and new_name not in old_style
    loaded = batches.load_pickle(io.BytesIO(old_style), "data_batch_1")
    np.testing.assert_array_equal(loaded[b"data"], batch()[b"data"])


def test_batch_rows_become_hwc_images() -> None:
    pixels, labels = synthetic_images(4, seed=1)
    converted = batches.batch_from_dict(batch(), "data_batch_1")
    np.testing.assert_array_equal(converted.images, pixels)
    np.testing.assert_array_equal(converted.labels, labels)
    # The first 1024 bytes of a row are the red plane, row-major.
    assert converted.images[0, 0, 1, 0] == batch()[b"data"][0, 1]
    assert converted.images[0, 0, 0, 1] == batch()[b"data"][0, 1024]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ({b"data": np.zeros((2, 3072), np.uint8)}, "expected a dict with b'data' and b'labels'"),
        ([1, 2], "expected a dict"),
        (batch(data=np.zeros((4, 3072), np.float32)), "must be a uint8 array, found float32"),
        (batch(data=np.zeros((4, 1024), np.uint8)), r"must have shape \(images, 3072\)"),
        (batch(labels=[0, 1, 2, 10]), r"labels must lie in 0..9, found 0..10"),
        (batch(labels=[0, 1, -1, 3]), "labels must lie in 0..9"),
        (batch(labels=[0, 1, 2]), "4 images but 3 labels"),
        (batch(labels="0123"), "must be a list of ints"),
    ],
    ids=["missing-key", "not-a-dict", "dtype", "shape", "label-high", "label-low", "count", "type"],
)
def test_bad_batches_are_named_with_their_problem(content: object, problem: str) -> None:
    with pytest.raises(DatasetError, match=f"data_batch_3: .*{problem}"):
        batches.batch_from_dict(content, "data_batch_3")


def test_damaged_pickle_is_a_dataset_error() -> None:
    with pytest.raises(DatasetError, match="data_batch_2 is not a readable pickle"):
        batches.load_pickle(io.BytesIO(pickle.dumps(batch())[:100]), "data_batch_2")


# --- extraction -----------------------------------------------------------------------------


def make_archive(path: Path, members: dict[str, bytes], extra: list[tarfile.TarInfo] = ()) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        folder = tarfile.TarInfo(FOLDER)
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, content in members.items():
            info = tarfile.TarInfo(f"{FOLDER}/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return path


def complete_members() -> dict[str, bytes]:
    return {name: f"content of {name}".encode() for name in cifar.ARCHIVE_MEMBERS}


def test_extracts_exactly_the_cifar_members(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.tar.gz", complete_members())
    cifar.extract_archive(archive, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(cifar.ARCHIVE_MEMBERS)
    assert (tmp_path / "out" / "test_batch").read_bytes() == b"content of test_batch"


def member(
    name: str, kind: bytes = tarfile.REGTYPE, size: int = 1, link: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size if kind == tarfile.REGTYPE else 0, link
    return info


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (member(f"{FOLDER}/../escaped"), "would escape the target folder"),
        (member("/tmp/imgbench-absolute"), "would escape the target folder"),
        (member(f"{FOLDER}/link", tarfile.SYMTYPE, link="/etc/passwd"), "is a link"),
        (member(f"{FOLDER}/hard", tarfile.LNKTYPE, link=f"{FOLDER}/test_batch"), "is a link"),
        (member(f"{FOLDER}/device", tarfile.CHRTYPE), "is a special file"),
        (member(f"{FOLDER}/fifo", tarfile.FIFOTYPE), "is a special file"),
        (member(f"{FOLDER}/data_batch_6"), "unexpected member"),
        (member("other/data_batch_1"), "unexpected member"),
    ],
    ids=["dotdot", "absolute", "symlink", "hardlink", "device", "fifo", "extra", "wrong-folder"],
)
def test_refuses_dangerous_or_unexpected_members(bad, problem: str, tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "a.tar.gz", complete_members(), [bad])
    with pytest.raises(ArchiveError, match=problem):
        cifar.extract_archive(archive, tmp_path / "sub" / "out")
    assert not (tmp_path / "sub" / "out").exists()
    assert list((tmp_path / "sub").iterdir()) == []  # no staging folder left behind
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/imgbench-absolute").exists()


def test_missing_member_is_named(tmp_path: Path) -> None:
    members = complete_members()
    del members["data_batch_4"]
    archive = make_archive(tmp_path / "a.tar.gz", members)
    with pytest.raises(ArchiveError, match="lacks cifar-10-batches-py/data_batch_4"):
        cifar.extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_truncated_and_non_archives_fail_cleanly(tiny_archive, tmp_path: Path) -> None:
    content = tiny_archive[0].read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(content[: len(content) // 2])
    not_gzip = tmp_path / "not.tar.gz"
    not_gzip.write_bytes(b"<html>404 not found</html>")
    for archive in (truncated, not_gzip):
        with pytest.raises(ArchiveError, match="(?s)archive.*fetch.* again"):
            cifar.extract_archive(archive, tmp_path / "out")
        assert not (tmp_path / "out").exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["not.tar.gz", "truncated.tar.gz"]


def test_synthetic_archive_goes_through_the_whole_path(tiny_archive, tmp_path: Path) -> None:
    archive, md5 = tiny_archive
    cifar.verify_md5(archive, md5)
    cifar.extract_archive(archive, tmp_path / "batches")
    batches.build_pool(tmp_path / "batches", tmp_path / "pool.npz")
    pool = Pool.load(tmp_path / "pool.npz")
    assert len(pool) == 100
    expected, expected_labels = synthetic_images(100, seed=7)
    np.testing.assert_array_equal(pool.images, expected)
    np.testing.assert_array_equal(pool.labels, expected_labels)
    images, labels = pool.first(250)  # repeated in order, as the tutorial doubles CIFAR-10
    np.testing.assert_array_equal(images[200:250], expected[:50])
    np.testing.assert_array_equal(labels[100:200], expected_labels)


# --- fetching -------------------------------------------------------------------------------


def test_download_is_verified(http_server, tiny_archive, tmp_path: Path) -> None:
    out = tmp_path / "dl" / "cifar-10-python.tar.gz"
    cifar.fetch_archive(out, tiny_archive[1], url=f"{http_server.url}/cifar-10-python.tar.gz")
    assert out.read_bytes() == tiny_archive[0].read_bytes()


def test_wrong_checksum_leaves_nothing(http_server, tiny_archive, tmp_path: Path) -> None:
    out = tmp_path / "dl" / "cifar-10-python.tar.gz"
    wrong = "0" * 32
    with pytest.raises(ChecksumError, match=f"has MD5 {tiny_archive[1]}, but {wrong} was expected"):
        cifar.fetch_archive(out, wrong, url=f"{http_server.url}/cifar-10-python.tar.gz")
    assert list(out.parent.iterdir()) == []


def test_download_retries_a_server_error(http_server, tiny_archive, tmp_path: Path) -> None:
    http_server.handler.failures = 2
    out = tmp_path / "cifar-10-python.tar.gz"
    url = f"{http_server.url}/cifar-10-python.tar.gz"
    cifar.fetch_archive(out, tiny_archive[1], url=url, retries=3, backoff=0.01)
    assert http_server.handler.requests == 3 and out.is_file()


def test_missing_file_on_server_is_not_retried(http_server, tmp_path: Path) -> None:
    out = tmp_path / "cifar-10-python.tar.gz"
    with pytest.raises(DatasetError, match="after 1 attempt"):
        cifar.fetch_archive(out, "0" * 32, url=f"{http_server.url}/nope.tar.gz", backoff=0.01)
    assert not out.exists()


def test_no_network_names_both_ways_out(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port on 127.0.0.1 that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "cifar-10-python.tar.gz"
    with pytest.raises(DatasetError) as failure:
        cifar.fetch_archive(
            out, "0" * 32, url=f"http://127.0.0.1:{port}/x.tar.gz", retries=2, backoff=0.01
        )
    assert "dataset.archive" in str(failure.value)
    assert "dataset.source: synthetic" in str(failure.value)
    assert "after 2 attempt(s)" in str(failure.value)
    assert list(tmp_path.iterdir()) == []


def test_local_archive_is_copied_and_verified(tiny_archive, tmp_path: Path) -> None:
    out = tmp_path / "cifar-10-python.tar.gz"
    cifar.fetch_archive(out, tiny_archive[1], local_archive=tiny_archive[0])
    assert out.read_bytes() == tiny_archive[0].read_bytes()
    with pytest.raises(DatasetError, match="is not a file"):
        cifar.fetch_archive(out, tiny_archive[1], local_archive=tmp_path / "missing.tar.gz")
