"""The WebDataset tar store: both implementations write the same shards, read any indices back,
and the shards are ordinary tar files that GNU tar and webdataset read without imgbench."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
import webdataset
from PIL import Image

from imgbench.codecs import Codec
from imgbench.errors import StoreError
from imgbench.stores import Store, open_store, store_of
from imgbench.stores.tar import (
    INDEX_FILE,
    OFFSETS_FILE,
    STORES,
    DocumentedTarStore,
    FastTarStore,
    shard_counts,
    shard_name,
)

SHARD_BYTES = 40 * 1024  # four records: 8-10 images of about 4 KiB in tar, so 4-5 shards of 40
CODECS = ("png", "jpeg", "qoi", "raw")
IMPLEMENTATIONS = ("fast", "documented")
INDICES = {
    "all": list(range(40)),
    "run-across-shards": list(range(5, 31)),
    "one": [17],
    "repeats": [39, 0, 17, 17, 18, 19],
    "permutation": np.random.default_rng(1).permutation(40).tolist(),
    "runs-and-gaps": [2, 3, 4, 20, 21, 9, 10],
}


def store(implementation: str, codec: str = "png") -> Store:
    return STORES[implementation].with_codec(Codec(codec), shard_bytes=SHARD_BYTES)


def expected(codec: Codec, pixels: np.ndarray) -> np.ndarray:
    """What the codec's decoder returns for each image's bytes (JPEG is lossy)."""
    decoded = np.empty_like(pixels)
    for image, out in zip(pixels, decoded, strict=True):
        codec.decode(codec.encode(image), out)
    return decoded


def shards(path: Path) -> list[Path]:
    return sorted(path.glob("shard-*.tar"))


@pytest.fixture
def png_store(images, tmp_path: Path) -> Path:
    store("fast").write_many(tmp_path / "store", *images)
    return tmp_path / "store"


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("writer", IMPLEMENTATIONS)
def test_every_codec_round_trips_through_both_readers(
    images, tmp_path: Path, writer: str, codec: str
) -> None:
    pixels, labels = images
    store(writer, codec).write_many(tmp_path / "store", pixels, labels)
    assert len(shards(tmp_path / "store")) >= 3
    want = expected(Codec(codec), pixels)
    for reader in IMPLEMENTATIONS:
        with store(reader, codec).open(tmp_path / "store") as opened:
            assert len(opened) == 40
            for name, indices in INDICES.items():
                read, read_labels = opened.read_many(np.array(indices))
                assert read.shape == (len(indices), 32, 32, 3), (reader, name)
                np.testing.assert_array_equal(read, want[indices], err_msg=f"{reader} {name}")
                np.testing.assert_array_equal(read_labels, labels[indices])
            image, label = opened[-3]
            np.testing.assert_array_equal(image, want[37])
            assert label == labels[37]
            assert opened.read_many(np.array([], dtype=np.int64))[0].shape == (0, 32, 32, 3)


@pytest.mark.parametrize("codec", CODECS)
def test_both_implementations_write_identical_bytes_every_time(
    images, tmp_path: Path, codec: str
) -> None:
    writes = {
        f"{implementation}{run}": tmp_path / f"{implementation}{run}"
        for implementation in IMPLEMENTATIONS
        for run in range(2)
    }
    for name, path in writes.items():
        store(name[:-1], codec).write_many(path, *images)
    contents = [
        {file.name: file.read_bytes() for file in sorted(path.iterdir())}
        for path in writes.values()
    ]
    assert all(content == contents[0] for content in contents[1:])


def test_open_store_recognises_it_and_opens_it_fast(png_store: Path) -> None:
    assert store_of(png_store).key == "tar/fast/png"
    with open_store(png_store) as reader:
        assert len(reader) == 40


def test_gnu_tar_lists_and_extracts_the_members(images, png_store: Path, tmp_path: Path) -> None:
    pixels, labels = images
    listed = []
    for shard in shards(png_store):
        tar = subprocess.run(["tar", "-tf", shard], capture_output=True, text=True, check=True)
        listed += tar.stdout.split()
    assert listed == [f"{i:08d}.{ext}" for i in range(40) for ext in ("cls", "png")]

    index = json.loads((png_store / INDEX_FILE).read_text())
    first_of_second = index["shardlist"][0]["nsamples"]
    folder = tmp_path / "extracted"
    folder.mkdir()
    member = f"{first_of_second:08d}.png"
    subprocess.run(["tar", "-xf", shards(png_store)[1], "-C", folder, member], check=True)
    with Image.open(folder / member) as image:
        np.testing.assert_array_equal(np.asarray(image), pixels[first_of_second])


def test_webdataset_alone_reads_every_sample_in_order(images, png_store: Path) -> None:
    pixels, labels = images
    dataset = webdataset.WebDataset(
        [str(shard) for shard in shards(png_store)], shardshuffle=False
    ).to_tuple("__key__", "png", "cls")
    samples = list(dataset)
    assert [key for key, _, _ in samples] == [f"{i:08d}" for i in range(40)]
    assert [int(label) for _, _, label in samples] == labels.tolist()
    decoded = [np.asarray(Image.open(io.BytesIO(data))) for _, data, _ in samples]
    np.testing.assert_array_equal(np.stack(decoded), pixels)


def test_the_index_is_a_wids_shard_list(png_store: Path) -> None:
    index = json.loads((png_store / INDEX_FILE).read_text())
    assert index["__kind__"] == "wids-shard-index-v1" and index["wids_version"] == 1
    assert [shard["url"] for shard in index["shardlist"]] == [s.name for s in shards(png_store)]
    assert sum(shard["nsamples"] for shard in index["shardlist"]) == 40
    assert index["imgbench"] == {"codec": "png", "shape": [32, 32, 3], "count": 40}


def test_shards_fill_up_to_shard_bytes(png_store: Path) -> None:
    sizes = [shard.stat().st_size for shard in shards(png_store)]
    assert all(size <= SHARD_BYTES for size in sizes)
    assert all(size > SHARD_BYTES - 10 * 1024 for size in sizes[:-1])  # short by under a record


def test_the_smallest_shards_are_one_record(images, tmp_path: Path) -> None:
    smallest = FastTarStore(Codec("raw"), shard_bytes=10240)  # two raw samples of 4,608 bytes
    smallest.write_many(tmp_path / "store", *images)
    assert [shard.stat().st_size for shard in shards(tmp_path / "store")] == [10240] * 20
    with smallest.open(tmp_path / "store") as reader:
        np.testing.assert_array_equal(reader.read_many(np.arange(40))[0], images[0])


def test_a_sample_larger_than_shard_bytes_gets_a_shard_of_its_own() -> None:
    assert shard_counts([4096, 30000, 4096, 4096], 10240) == [1, 1, 2]


def test_shard_bytes_is_a_store_option(tmp_path: Path) -> None:
    assert FastTarStore().shard_bytes == 64 * 2**20
    with pytest.raises(StoreError, match="does not take"):
        FastTarStore().with_codec(Codec("png"), shard_size=1)
    with pytest.raises(StoreError, match="below one tar record"):
        DocumentedTarStore(shard_bytes=100)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("codec", ["png", "raw"])
@pytest.mark.parametrize("indices", [list(range(40)), [39, 3]], ids=["in-order", "scattered"])
def test_a_truncated_shard_is_named(
    images, tmp_path: Path, implementation: str, codec: str, indices: list[int]
) -> None:
    store("fast", codec).write_many(tmp_path / "store", *images)
    last = shards(tmp_path / "store")[-1]
    with store(implementation, codec).open(tmp_path / "store") as reader:
        last.write_bytes(last.read_bytes()[:3000])  # cut while open: found on reading
        with pytest.raises(StoreError, match=rf"{last.name} is truncated .*rebuild the store"):
            reader.read_many(np.array(indices))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_missing_shard_is_named(png_store: Path, implementation: str) -> None:
    (png_store / shard_name(1)).unlink()
    with pytest.raises(StoreError, match=rf"{shard_name(1)} is missing .*rebuild"):
        store(implementation).open(png_store)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_folder_without_our_index_is_refused(png_store: Path, implementation: str) -> None:
    (png_store / INDEX_FILE).write_text(json.dumps({"__kind__": "wids-shard-index-v1"}))
    assert not store(implementation).owns(png_store)
    with pytest.raises(StoreError, match="not a tar store we built"):
        store(implementation).open(png_store)
    (png_store / INDEX_FILE).unlink()
    with pytest.raises(StoreError, match="no readable index.json"):
        store(implementation).open(png_store)
    with pytest.raises(StoreError, match="no recognisable store"):
        open_store(png_store)


def test_damaged_offsets_are_refused(png_store: Path) -> None:
    np.save(png_store / OFFSETS_FILE, np.zeros((3, 4), dtype=np.int64))
    with pytest.raises(StoreError, match="does not describe 40 images"):
        store("fast").open(png_store)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_codec_mismatch_is_refused(png_store: Path, implementation: str) -> None:
    assert STORES[implementation].stored_codec(png_store) == "png"
    with pytest.raises(StoreError, match="holds png members, not qoi: open it as png"):
        store(implementation, "qoi").open(png_store)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("indices", [list(range(40)), [30, 12]], ids=["in-order", "scattered"])
def test_a_damaged_member_is_named(png_store: Path, implementation: str, indices: list) -> None:
    rows = np.load(png_store / OFFSETS_FILE)
    shard, offset = int(rows[12, 0]), int(rows[12, 1])
    path = shards(png_store)[shard]
    with open(path, "r+b") as file:
        file.seek(offset)
        file.write(b"not a PNG")
    with (
        store(implementation).open(png_store) as reader,
        pytest.raises(StoreError, match=rf"{path.name} member 00000012\.png: not a png image"),
    ):
        reader.read_many(np.array(indices))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_one_image_from_a_damaged_or_truncated_shard_is_named(
    png_store: Path, implementation: str
) -> None:
    """`reader[i]`, which `fast` serves with one pread, checks what `read_many` checks."""
    rows = np.load(png_store / OFFSETS_FILE)
    path = shards(png_store)[int(rows[12, 0])]
    with open(path, "r+b") as file:
        file.seek(int(rows[12, 1]))
        file.write(b"not a PNG")
    with store(implementation).open(png_store) as reader:
        with pytest.raises(StoreError, match=rf"{path.name} member 00000012\.png: not a png"):
            reader[12]
        last = shards(png_store)[-1]
        last.write_bytes(last.read_bytes()[:3000])
        with pytest.raises(StoreError, match=rf"{last.name} is truncated .*rebuild the store"):
            reader[-1]


def test_the_shards_are_plain_posix_tar(png_store: Path) -> None:
    with tarfile.open(shards(png_store)[0]) as tar:
        member = tar.getmembers()[1]
    assert (member.mtime, member.uid, member.gid, member.uname, member.mode) == (0, 0, 0, "", 0o644)
