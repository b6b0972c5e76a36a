"""Property-based: whatever bytes, tar layouts or pickles arrive, the dataset path either returns
valid arrays or raises the project's own error, never another exception, never runs code."""

from __future__ import annotations

import io
import os
import pickle
import tarfile
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imgbench import batches, cifar
from imgbench.errors import DatasetError
from imgbench.synthetic import synthetic_images

FOLDER = cifar.ARCHIVE_FOLDER
MARKER = Path(tempfile.gettempdir()) / f"imgbench-fuzz-marker-{os.getpid()}"
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


class Hostile:
    """Unpickling this would create MARKER; the restricted unpickler must refuse it first."""

    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.binary(max_size=16),
    st.text(max_size=8),
    st.builds(Hostile),
    st.builds(
        lambda shape, dtype: np.zeros(shape, dtype),
        st.lists(st.integers(0, 4), max_size=3).map(tuple),
        st.sampled_from(["uint8", "int64", "float32", "bool", "U3"]),
    ),
)
keys = st.one_of(st.binary(max_size=8), st.text(max_size=4))
objects = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.binary(max_size=8), st.text(max_size=4)), children, max_size=4
        ),
    ),
    max_leaves=12,
)
batch_like = st.fixed_dictionaries(
    {b"data": objects | st.just(np.zeros((2, 3072), np.uint8)), b"labels": objects},
    optional={b"filenames": objects},
)


def genuine_batch_pickle() -> bytes:
    pixels, labels = synthetic_images(3, seed=2)
    rows = pixels.transpose(0, 3, 1, 2).reshape(3, 3072)
    return pickle.dumps({b"data": rows, b"labels": labels.tolist()})


@st.composite
def pickles(draw) -> bytes:
    """Pickles of random structures, batch-like dicts, hostile objects or damaged real batches."""
    kind = draw(st.sampled_from(["object", "batch", "damaged"]))
    if kind == "damaged":
        data = bytearray(genuine_batch_pickle())
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data[: draw(st.integers(0, len(data)))])
    value = draw(objects if kind == "object" else batch_like)
    return pickle.dumps(value, protocol=draw(st.integers(0, pickle.HIGHEST_PROTOCOL)))


def check_batch(payload: bytes) -> None:
    try:
        batch = batches.batch_from_dict(batches.load_pickle(io.BytesIO(payload), "fuzz"), "fuzz")
    except DatasetError:
        return
    finally:
        assert not MARKER.exists(), "a pickle ran code"
    assert batch.images.dtype == np.uint8 and batch.images.shape[1:] == (32, 32, 3)
    assert batch.labels.dtype == np.uint8 and len(batch.labels) == len(batch.images)
    assert batch.labels.max(initial=0) < batches.NUM_CLASSES


@FUZZ
@given(pickles())
def test_any_pickle_gives_a_valid_batch_or_a_dataset_error(payload: bytes) -> None:
    check_batch(payload)


member_names = st.one_of(
    st.sampled_from([f"{FOLDER}/{name}" for name in cifar.ARCHIVE_MEMBERS]),
    st.sampled_from([FOLDER, f"{FOLDER}/../escape", "/tmp/imgbench-abs", "../../x", "x\\y"]),
    st.text(min_size=1, max_size=12),
)
members = st.tuples(
    member_names,
    st.sampled_from(
        [
            tarfile.REGTYPE,
            tarfile.DIRTYPE,
            tarfile.SYMTYPE,
            tarfile.LNKTYPE,
            tarfile.CHRTYPE,
            tarfile.FIFOTYPE,
        ]
    ),
    st.one_of(st.binary(max_size=64), pickles()),
)


def write_tar(path: Path, entries: list[tuple[str, bytes, bytes]]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, content in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "/etc/passwd" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
            info.size = len(content) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(content) if kind == tarfile.REGTYPE else None)


@FUZZ
@given(st.lists(members, max_size=10), st.booleans())
def test_any_small_tar_extracts_to_valid_batches_or_a_dataset_error(entries, complete) -> None:
    if complete:  # every expected member present, so extraction goes on to unpickling
        entries = entries + [
            (f"{FOLDER}/{name}", tarfile.REGTYPE, genuine_batch_pickle())
            for name in cifar.ARCHIVE_MEMBERS
            if not any(entry[0] == f"{FOLDER}/{name}" for entry in entries)
        ]
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        write_tar(root / "a.tar.gz", entries)
        try:
            cifar.extract_archive(root / "a.tar.gz", root / "out" / "batches")
            for name in cifar.TRAIN_BATCHES:
                batches.read_batch(root / "out" / "batches" / name)
        except DatasetError:
            pass
        outside = {path.name for path in root.iterdir()} - {"a.tar.gz", "out"}
        assert not outside, f"written outside the target folder: {outside}"
        out = root / "out"
        assert not out.exists() or {p.name for p in out.iterdir()} <= {"batches"}
    assert not MARKER.exists() and not Path("/tmp/imgbench-abs").exists()


@FUZZ
@given(st.binary(max_size=4096))
def test_any_bytes_as_an_archive_are_refused_cleanly(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        archive = Path(temporary) / "a.tar.gz"
        archive.write_bytes(data)
        try:
            cifar.extract_archive(archive, Path(temporary) / "batches")
        except DatasetError:
            assert not (Path(temporary) / "batches").exists()
