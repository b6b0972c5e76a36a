"""WebDataset tar shards: POSIX tar files of about `shard_bytes` each, two members per image.

Layout (both implementations write it byte for byte, and each reads the other's stores):
`shard-000000.tar`, `shard-000001.tar`, ... hold, per image in index order, `{key}.cls` (the label
as ASCII decimal, WebDataset's convention) then `{key}.{extension}` (the image in its codec,
`imgbench.codecs`), key = `f"{index:08d}"`: the order in which `webdataset.TarWriter` writes a
sample's members (sorted by name). Members have mtime 0, uid/gid 0, no user or group names and
mode 0o644, so two writes give identical bytes. A shard takes samples while the whole file,
tar's end blocks and record padding included, stays within `shard_bytes` (a lone sample larger
than that gets a shard of its own); `webdataset.ShardWriter` counts only the members' data, which
for 32x32 PNG images (4,096 bytes in tar for ~2,200 of data) would make shards about 1.9x as big as
asked, so neither implementation uses it.
`index.json` (the marker, written last) is a `wids` shard list (`wids-shard-index-v1`: each
shard's `url`, `nsamples`, `filesize`) plus an `imgbench` entry (codec, image shape, count);
`offsets.npy` holds one int64 row (shard, offset, size, label) per image: where its image
member's data lies, which is what random access needs.

`documented` does what the WebDataset docs show. It writes each shard with `webdataset.TarWriter`
(`{"__key__", extension, "cls"}` samples) and builds the offsets by listing what was written with
`tarfile`, as `wids` indexes shards by scanning them. It reads an in-order run by streaming the
shards holding it through `webdataset.WebDataset(..., shardshuffle=False).slice(...)
.to_tuple(...)`, skipping the samples before the first; other indices the way `wids` answers
random access: it maps each shard (`mmap`) and slices members out at the index's offsets. It
decodes one image at a time in the calling process with the codec, not with webdataset's
`.decode("rgb8")`: that uses Pillow, which handles PNG and JPEG but not QOI or raw pixels, so one
decoder for every codec keeps the comparison about the container, as in the other formats
(Pillow takes about twice imagecodecs' time for PNG, see `imgbench.stores.files`; its JPEG pixels
matched the codec's on 200 test images).

`fast` encodes on every core (`imgbench.parallel`), then builds each shard in memory and writes it
at once, computing offsets as it goes: the bytes `tarfile.addfile` would write (`TarWriter` asks
for tarfile's default, pax, whose headers for these short ASCII names are plain ustar ones).
Building the shards from `TarInfo.tobuf` headers took 1.2 against `addfile`'s 2.0 s for the
20,000 members of 10,000 raw images, as `addfile` copies every `TarInfo` and streams every member
from a file; filling in a name, a size and a checksum around one template header (`ustar_header`,
the same bytes) takes 1.6 instead of `tobuf`'s 24 us a member (0.06 against 1.0 s of a write of
20,000 PNG images, whose encoding takes 1.8 s; idle 2-core VM, 2026-11-26). It reads one image
(`reader[i]`, a data loader's access) with one `pread` of its member: 62-72 us with decoding,
against 181 us through the mapping below and 55-61 us for decoding alone (20,000 PNG images,
random order). A bulk read (`read_many`) of encoded images maps the shards it needs (`mmap`, for
that read only) and hands memoryview slices at the index's offsets to `decode_many`, decoding on
every core; the forked decoders inherit the maps. Raw images skip the decoder: one `os.preadv`
per run of consecutive indices in a shard scatters each member straight into its row of the result
and the bytes between members (headers, labels, padding) into a scratch buffer; a scattered image
is one `preadv` into its row. Shard descriptors stay open.

Measured on a 2-core VM, ext4, 2026-11-25, warm cache, `synthetic_images(n, seed=0)` (100,000:
50,000 twice), medians of 5-7 reads of all images in order and in a random permutation, while
other jobs kept the load average at 4-7 (absolute times are inflated by them; an earlier,
noisier pass ranked the PNG fetches the same). ms:

    images, order                     10,000 in order / perm    100,000 in order / perm
    PNG, getting every member's bytes ready for decoding:
      one pread per shard, slices           93 / -                   889 / -
      one pread per member                  90 / 91                  836 / 882
      mmap, slices (kept)                   30 / 30                  328 / 294
    raw, the whole read:
      one pread per shard + decode_many    411 / -                 1,530 / -
      one pread per member + decode_many   110 / 90                1,546 / 2,057
      mmap slices + decode_many             90 / 87                1,528 / 1,956
      preadv into the rows (kept)           32 / 93                  609 / 1,551
    whole reads, PNG: fast               2,901 / 2,866            13,275 / 15,705
                      documented         8,223 / 1,877            (not run)
                 raw: documented         2,533 / 488              (not run)

The map wins for encoded images because nothing is copied before decoding: the decoder reads
the page cache itself, where one pread copies each 64 MB shard into fresh memory that must be
faulted in, and a pread per member pays a system call and an allocation per image. For raw
images the decoder's only work is a copy, so the best read is the one copy the kernel does
anyway, into the result: `preadv` does that with no Python call per image, 2.5x faster in order
than any fetch-then-copy. (One pread then a strided NumPy copy, possible because every raw
sample is the same size, took 910 against 988 ms at 100,000 but 131 against 54 ms at 10,000 in
the first pass; not kept.) With other jobs on both cores the fork pool gained nothing over
decoding in one process (documented's permutation, 1,877 ms, beat fast's 2,866); it was not
measured on an idle machine here. Documented's in-order read passes every sample through
`tarfile`'s stream mode and webdataset's pipeline in one process.

A truncated shard, a missing shard, a folder without our index and a damaged member are each a
StoreError naming the file and member, saying to rebuild the store.
"""

from __future__ import annotations

import itertools
import json
import mmap
import os
import tarfile
from abc import abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import webdataset

from imgbench.atomic_files import atomic_path
from imgbench.cells import Presentation
from imgbench.codecs import NAMES, Codec
from imgbench.errors import StoreError
from imgbench.parallel import decode_many, encode_many
from imgbench.stores.base import (
    PartWriter,
    Reader,
    Store,
    check_appended,
    check_codec,
    checked_indices,
    no_images,
    read_shared_note,
    write_shared_note,
)

PRESENTATION = Presentation(label="tar", colour="tab:red", rank=40)

SHARD_BYTES = 64 * 2**20
INDEX_FILE = "index.json"  # the wids shard list plus an `imgbench` entry: the marker
OFFSETS_FILE = "offsets.npy"  # int64 rows (shard, offset, size, label) of each image member
KIND = "wids-shard-index-v1"
BLOCK = tarfile.BLOCKSIZE
RECORD = tarfile.RECORDSIZE  # tarfile and GNU tar pad an archive to a multiple of this
IOV_MAX = os.sysconf("SC_IOV_MAX")
SHARD, OFFSET, SIZE, LABEL = range(4)


def shard_name(number: int) -> str:
    return f"shard-{number:06d}.tar"


def sample_key(index: int) -> str:
    return f"{index:08d}"


def label_bytes(label: int) -> bytes:
    """A label as WebDataset's `.cls` member holds it (its encoder's `str(x).encode("ascii")`)."""
    return str(int(label)).encode("ascii")


def padded(size: int) -> int:
    """Bytes a member's data takes in a tar file: whole 512-byte blocks."""
    return -(-size // BLOCK) * BLOCK


def shard_counts(sample_bytes: list[int], shard_bytes: int) -> list[int]:
    """Samples per shard: each shard takes samples while its file (end blocks and record padding
    included) stays within `shard_bytes`, and at least one."""
    counts: list[int] = []
    content = 0
    for size in sample_bytes:
        if counts and -(-(content + size + 2 * BLOCK) // RECORD) * RECORD <= shard_bytes:
            counts[-1] += 1
            content += size
        else:
            counts.append(1)
            content = size
    return counts


def sample_sizes(blobs: list[bytes], labels: np.ndarray) -> list[int]:
    """Bytes each sample takes in a shard: two headers and both members' padded data."""
    return [
        2 * BLOCK + padded(len(label_bytes(label))) + padded(len(blob))
        for blob, label in zip(blobs, labels, strict=True)
    ]


def write_index(
    path: Path, codec: Codec, shape: tuple[int, ...], counts: list[int], rows: np.ndarray
) -> None:
    """Write the offsets, then `index.json` last, so a folder is a store only once complete;
    each beside its old self and renamed over it, so appending never leaves half a file."""
    with atomic_path(path / OFFSETS_FILE) as partial, open(partial, "wb") as file:
        np.save(file, rows)
    shardlist = [
        {
            "url": shard_name(number),
            "nsamples": count,
            "filesize": (path / shard_name(number)).stat().st_size,
        }
        for number, count in enumerate(counts)
    ]
    imgbench = {"codec": codec.name, "shape": list(shape), "count": len(rows)}
    index = {"__kind__": KIND, "wids_version": 1, "shardlist": shardlist, "imgbench": imgbench}
    with atomic_path(path / INDEX_FILE) as partial:
        partial.write_text(json.dumps(index, indent=1) + "\n")


def read_index_file(path: Path) -> dict[str, object] | None:
    """`index.json` if it is one of ours, else None."""
    try:
        index = json.loads((path / INDEX_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(index, dict) or index.get("__kind__") != KIND:
        return None
    ours = index.get("imgbench")
    if not isinstance(ours, dict) or ours.get("codec") not in NAMES:
        return None
    return index


@dataclass(frozen=True)
class TarIndex:
    """What a reader needs: codec, image shape, shard files and every image member's place."""

    path: Path
    extension: str
    shape: tuple[int, ...]
    shards: list[Path]
    filesizes: list[int]
    rows: np.ndarray  # (count, 4) int64: shard, offset, size, label

    def member(self, index: int) -> str:
        """The shard and member holding image `index`, for messages."""
        shard = self.shards[int(self.rows[index, SHARD])].name
        return f"{shard} member {sample_key(index)}.{self.extension}"

    def truncated(self, shard: int) -> StoreError:
        size = self.shards[shard].stat().st_size
        return StoreError(
            f"{self.shards[shard]} is truncated ({size} bytes; the index records "
            f"{self.filesizes[shard]}): rebuild the store"
        )


@dataclass(slots=True)
class MemberName:
    """Image `image`'s member, named only if its decoder fails: `decode_many` asks for a name per
    image, and building each string up front cost 4-8 us, this under 2 us (busy 2-core VM)."""

    index: TarIndex
    image: int

    def __str__(self) -> str:
        return self.index.member(self.image)


def load_index(path: Path, codec: Codec) -> TarIndex:
    """The store's index, after refusing a folder that is not a complete tar store of `codec`."""
    index = read_index_file(path)
    if index is None:
        raise StoreError(
            f"{path} has no readable {INDEX_FILE} of a tar store ({KIND} with an `imgbench` "
            "entry): it is not a tar store we built, or its writing was interrupted; rebuild it"
        )
    ours: dict = index["imgbench"]  # type: ignore[assignment]
    check_codec(path, ours["codec"], codec, "members")
    try:
        rows = np.load(path / OFFSETS_FILE)
        shardlist = index["shardlist"]
        shards = [path / shard["url"] for shard in shardlist]  # type: ignore[union-attr]
        filesizes = [int(shard["filesize"]) for shard in shardlist]  # type: ignore[union-attr]
        count, shape = int(ours["count"]), tuple(ours["shape"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StoreError(f"{path}: unreadable tar store index ({error}); rebuild it") from error
    if rows.dtype != np.int64 or rows.shape != (count, 4):
        raise StoreError(f"{path / OFFSETS_FILE} does not describe {count} images; rebuild it")
    for shard in shards:
        if not shard.is_file():
            raise StoreError(f"{shard} is missing from this tar store: rebuild the store")
    return TarIndex(path, codec.extension, shape, shards, filesizes, rows)


def run_ends(indices: np.ndarray, shards: np.ndarray) -> np.ndarray:
    """Whether each read position but the last ends a run of consecutive indices in one shard."""
    return (np.diff(indices) != 1) | (np.diff(shards) != 0)


def segments(cut: np.ndarray) -> Iterator[tuple[int, int]]:
    """(start, stop) positions of each run, given `run_ends`."""
    starts = [0, *(np.flatnonzero(cut) + 1).tolist(), len(cut) + 1]
    return itertools.pairwise(starts)


class TarReader(Reader):
    """What both readers share: the index, its checks and the labels."""

    def __init__(self, path: Path, codec: Codec, workers: int | None) -> None:
        self._index = load_index(path, codec)
        self._codec, self._workers = codec, workers

    def __len__(self) -> int:
        return len(self._index.rows)

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, len(self))
        if len(indices) == 0:
            return no_images(self._index.shape), np.empty(0, dtype=np.uint8)
        return self._read(indices)

    @abstractmethod
    def _read(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`read_many` of checked, non-empty indices."""


class FastTarReader(TarReader):
    def __init__(self, path: Path, codec: Codec, workers: int | None) -> None:
        super().__init__(path, codec, workers)
        self._fds: list[int] = []
        try:
            for shard in self._index.shards:
                self._fds.append(os.open(shard, os.O_RDONLY))
        except OSError as error:
            self.close()
            raise StoreError(f"cannot open a shard of {path} ({error}); rebuild it") from error

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        """One image as a data loader asks for it: one `pread` of its member, no mapping."""
        count = len(self)
        if not -count <= index < count:
            raise IndexError(f"index {index} is out of range for a store of {count} images")
        shard, offset, size, label = self._index.rows[index % count].tolist()
        data = os.pread(self._fds[shard], size, offset)
        if len(data) != size:
            raise self._index.truncated(shard)
        where = MemberName(self._index, index % count)
        return self._codec.decoded(data, self._index.shape, where), label

    def _read(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = self._index.rows[indices]
        labels = rows[:, LABEL].astype(np.uint8)
        if self._codec.name == "raw":
            return self._read_raw(indices, rows), labels
        # Mapped for this read only (unmapped once its slices are gone), so a shard cut short
        # after the reader opened is found by its length here, not by a SIGBUS.
        views: dict[int, memoryview] = {}
        ends = rows[:, OFFSET] + rows[:, SIZE]
        for shard in np.unique(rows[:, SHARD]).tolist():
            end = int(ends[rows[:, SHARD] == shard].max())
            if os.fstat(self._fds[shard]).st_size < end:
                raise self._index.truncated(shard)
            views[shard] = memoryview(mmap.mmap(self._fds[shard], end, access=mmap.ACCESS_READ))
        blobs = [views[shard][offset : offset + size] for shard, offset, size, _ in rows.tolist()]
        images = decode_many(
            self._codec,
            blobs,
            self._index.shape,
            self._workers,
            lambda row: MemberName(self._index, int(indices[row])),
        )
        return images, labels

    def _read_raw(self, indices: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Scatter each run's bytes straight into the result: pixels into rows, the rest (tar
        headers, labels, padding) into a scratch buffer."""
        images = np.empty((len(indices), *self._index.shape), dtype=np.uint8)
        size = images[0].nbytes
        wrong = np.flatnonzero(rows[:, SIZE] != size)
        if len(wrong):
            member = self._index.member(int(indices[wrong[0]]))
            raise StoreError(
                f"{self._index.path}: {member} holds {rows[wrong[0], SIZE]} bytes, not the "
                f"{size} of one raw image: the store is damaged; rebuild it"
            )
        pixels = memoryview(images.reshape(-1))
        cut = run_ends(indices, rows[:, SHARD])
        gaps = np.diff(rows[:, OFFSET]) - size  # used only between neighbours within a run
        scratch = memoryview(bytearray(int(gaps[~cut].max(initial=0))))
        per_call = IOV_MAX // 2
        for start, stop in segments(cut):
            shard = int(rows[start, SHARD])
            for low in range(start, stop, per_call):
                high = min(low + per_call, stop)
                buffers: list[memoryview] = []
                for row in range(low, high):
                    buffers.append(pixels[row * size : (row + 1) * size])
                    if row + 1 < high:
                        buffers.append(scratch[: int(gaps[row])])
                wanted = sum(map(len, buffers))
                if os.preadv(self._fds[shard], buffers, int(rows[low, OFFSET])) != wanted:
                    raise self._index.truncated(shard)
        return images

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []


class DocumentedTarReader(TarReader):
    def __init__(self, path: Path, codec: Codec, workers: int | None) -> None:
        super().__init__(path, codec, workers)
        self._maps: dict[int, mmap.mmap] = {}

    def _read(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        images = np.empty((len(indices), *self._index.shape), dtype=np.uint8)
        labels = np.empty(len(indices), dtype=np.uint8)
        if len(indices) > 1 and bool(np.all(np.diff(indices) == 1)):
            self._stream(int(indices[0]), images, labels)
        else:
            for row, index in enumerate(indices.tolist()):
                self._random_access(index, images[row])
                labels[row] = self._index.rows[index, LABEL]
        return images, labels

    def _stream(self, first: int, images: np.ndarray, labels: np.ndarray) -> None:
        """Stream the shards holding `first` onwards through webdataset, skipping the samples
        of the first shard before `first`."""
        shards = self._index.rows[first : first + len(images), SHARD]
        numbers = range(int(shards[0]), int(shards[-1]) + 1)
        skip = first - int(np.searchsorted(self._index.rows[:, SHARD], shards[0]))
        dataset = (
            webdataset.WebDataset(
                [str(self._index.shards[number]) for number in numbers],
                shardshuffle=False,
                empty_check=False,
            )
            .slice(skip, skip + len(images))
            .to_tuple("__url__", "__key__", self._codec.extension, "cls")
        )
        row = 0
        try:
            for url, key, data, label in dataset:
                self._codec.decode(data, images[row], f"{url} member {key}.{self._codec.extension}")
                labels[row] = int(label)
                row += 1
        except (tarfile.TarError, OSError, ValueError) as error:
            raise self._truncation(numbers, error) from error
        if row != len(images):
            raise self._truncation(numbers, f"only {row} of {len(images)} samples")

    def _truncation(self, numbers: range, error: object) -> StoreError:
        """The error for a stream that failed or ended early: the shard that is shorter than
        recorded, if one is."""
        for number in numbers:
            if self._index.shards[number].stat().st_size < self._index.filesizes[number]:
                return self._index.truncated(number)
        return StoreError(f"{self._index.path}: cannot stream its shards ({error}); rebuild it")

    def _random_access(self, index: int, out: np.ndarray) -> None:
        shard, offset, size, _ = self._index.rows[index].tolist()
        if shard not in self._maps:
            try:
                with open(self._index.shards[shard], "rb") as file:
                    self._maps[shard] = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError as error:  # an empty file cannot be mapped
                raise self._index.truncated(shard) from error
        if offset + size > len(self._maps[shard]):
            raise self._index.truncated(shard)
        with memoryview(self._maps[shard])[offset : offset + size] as data:
            self._codec.decode(data, out, self._index.member(index))

    def close(self) -> None:
        for mapping in self._maps.values():
            mapping.close()
        self._maps = {}


class TarStore(Store):
    """What both implementations share: the option, the index and how a store is recognised."""

    format = "tar"
    marker = INDEX_FILE
    codecs = ("png", "jpeg", "qoi", "raw")
    streams = True

    def __init__(self, codec: Codec | None = None, *, shard_bytes: int = SHARD_BYTES) -> None:
        super().__init__(codec)
        if shard_bytes < RECORD:
            raise StoreError(f"shard_bytes {shard_bytes} is below one tar record ({RECORD})")
        self.shard_bytes = shard_bytes

    def stored_codec(self, path: Path) -> str:
        index = read_index_file(path)
        if index is None:
            raise StoreError(f"{path} has no readable {INDEX_FILE} of a tar store; rebuild it")
        return str(index["imgbench"]["codec"])  # type: ignore[index]

    def owns(self, path: Path) -> bool:
        return read_index_file(path) is not None

    def shard_index(self, path: Path) -> TarIndex:
        """The shards and members of the store at `path`, for reading it as a stream
        (`imgbench.torch.ShardStream`)."""
        return load_index(path, self.codec)

    def append_many(self, path: Path, images: np.ndarray, labels: np.ndarray) -> str:
        """New shards after the last one (WebDataset shards are written whole and never
        changed; the last shard is left as it is even if it has room), numbered on, then the
        offsets and `index.json` replaced by ones listing them, `index.json` last. Between
        those two renames a crash would leave an index that does not match its offsets, which
        opening refuses; the shards themselves are never touched."""
        index = read_index_file(path)
        if index is None:
            raise StoreError(f"{path} has no readable {INDEX_FILE} of a tar store; rebuild it")
        ours: dict = index["imgbench"]  # type: ignore[assignment]
        shape = tuple(ours["shape"])
        labels = check_appended(path, shape, ours["codec"], self.codec, images, labels)
        old = load_index(path, self.codec)
        counts = [int(shard["nsamples"]) for shard in index["shardlist"]]  # type: ignore[union-attr]
        rows = self.write_shards(
            path,
            images,
            labels,
            len(old.rows),
            lambda number: shard_name(len(counts) + number),
            None,
        )
        added = shard_sizes(rows)
        rows[:, SHARD] += len(counts)
        write_index(path, self.codec, shape, counts + added, np.vstack([old.rows, rows]))
        there = f"{len(added)} new shard(s) after the {len(counts)} there"
        return f"{there}; {INDEX_FILE} and {OFFSETS_FILE} rewritten"

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        """The shards (`write_shards`, the implementation's way), then the offsets and
        `index.json`, written last: a folder without them is no store."""
        path.mkdir(parents=True, exist_ok=True)
        rows = self.write_shards(path, images, labels, 0, shard_name, workers)
        write_index(path, self.codec, images.shape[1:], shard_sizes(rows), rows)

    @abstractmethod
    def write_shards(
        self,
        path: Path,
        images: np.ndarray,
        labels: np.ndarray,
        first: int,
        names: Callable[[int], str],
        workers: int | None,
    ) -> np.ndarray:
        """Write `images` (image indices from `first`) as shards named `names(0)`, `names(1)`...
        in `path`; their (shard, offset, size, label) rows, shards numbered from 0."""

    def prepare_shared(self, path: Path, count: int, image_shape: tuple[int, int, int]) -> None:
        write_shared_note(path, shape=list(image_shape))

    def part_writer(self, path: Path) -> TarPartWriter:
        return TarPartWriter(path, self)

    def finish_shared(self, path: Path, count: int) -> None:
        """Number the writers' shards in image order (a rename each), then write the offsets
        and `index.json`, as `write_many` does last."""
        shape = read_shared_note(path, remove=True)["shape"]
        pieces, numbered = [], 0
        for part in sorted(path.glob(".part-*.npy")):  # zero-padded starts: image order
            rows = np.load(part)
            shards = int(rows[:, SHARD].max()) + 1 if len(rows) else 0
            for number in range(shards):
                os.rename(
                    path / part_shard(part.stem, number), path / shard_name(numbered + number)
                )
            rows[:, SHARD] += numbered
            numbered += shards
            pieces.append(rows)
            part.unlink()
        rows = np.concatenate(pieces) if pieces else np.empty((0, 4), dtype=np.int64)
        if len(rows) != count:
            raise StoreError(f"{path}: the writers left {len(rows)} images, not {count}")
        write_index(path, self.codec, tuple(shape), shard_sizes(rows), rows)


def shard_sizes(rows: np.ndarray) -> list[int]:
    """Images per shard, from the (shard, offset, size, label) rows."""
    return np.bincount(rows[:, SHARD]).tolist() if len(rows) else []


def part_shard(part: str, number: int) -> str:
    """A writer's shard `number`, named by its part until `finish_shared` numbers it."""
    return f"{part}-{number:06d}.tar"


class TarPartWriter(PartWriter):
    """A writer's own shards in the one store folder, written as `write_many` writes shards
    (nothing is shared, so writers never wait), named by the part's first image; its rows go
    to a part file. `finish_shared` numbers the shards in order and writes the index."""

    def __init__(self, path: Path, store: TarStore) -> None:
        self._path, self._store = path, store

    def write(self, start: int, images: np.ndarray, labels: np.ndarray) -> None:
        part = f".part-{start:08d}"
        rows = self._store.write_shards(
            self._path, images, labels, start, lambda number: part_shard(part, number), 1
        )
        np.save(self._path / f"{part}.npy", rows)

    def close(self) -> None:
        """Every shard is closed once written."""


def tar_member(name: str, size: int) -> tarfile.TarInfo:
    """A member header that is the same on every machine and every write."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


# `tar_member("", 0)`'s ustar header, cut around the fields a member fills in: name (0-100),
# size (124-136) and checksum (148-155), whose sum counts the checksum field as 8 spaces.
_EMPTY_HEADER = tar_member("", 0).tobuf(tarfile.USTAR_FORMAT)
_AFTER_NAME, _AFTER_SIZE = _EMPTY_HEADER[100:124], _EMPTY_HEADER[136:148]
_AFTER_CHECKSUM = _EMPTY_HEADER[155:]
_FIXED_SUM = sum(_AFTER_NAME) + sum(_AFTER_SIZE) + 7 * ord(" ") + sum(_AFTER_CHECKSUM)


def ustar_header(name: bytes, size: int) -> bytes:
    """The bytes `tar_member(name, size).tobuf(tarfile.USTAR_FORMAT)` returns for an ASCII name
    of at most 100 bytes, in 2 instead of 24 us: `tobuf` validates and formats every field of a
    fresh `TarInfo`, where only three differ between members."""
    size_field = b"%011o\0" % size
    checksum = _FIXED_SUM + sum(name) + sum(size_field)
    return b"".join(
        (
            name.ljust(100, b"\0"),
            _AFTER_NAME,
            size_field,
            _AFTER_SIZE,
            b"%06o\0" % checksum,
            _AFTER_CHECKSUM,
        )
    )


def listed_rows(shard: Path, number: int, extension: str) -> list[tuple[int, int, int, int]]:
    """(shard, offset, size, label) of each image member of `shard`, as `tarfile` lists them."""
    rows, label = [], -1
    with tarfile.open(shard) as tar:
        for info in tar:
            if info.name.endswith(".cls"):
                label = int(tar.extractfile(info).read())  # type: ignore[union-attr]
            elif info.name.endswith(f".{extension}"):
                rows.append((number, info.offset_data, info.size, label))
    return rows


class DocumentedTarStore(TarStore):
    implementation = "documented"

    def write_shards(
        self,
        path: Path,
        images: np.ndarray,
        labels: np.ndarray,
        first: int,
        names: Callable[[int], str],
        workers: int | None,
    ) -> np.ndarray:
        blobs = [self.codec.encode(image) for image in images]
        counts = shard_counts(sample_sizes(blobs, labels), self.shard_bytes)
        extension, rows = self.codec.extension, []
        starts = itertools.accumulate(counts, initial=0)
        for number, (start, count) in enumerate(zip(starts, counts, strict=False)):
            shard = path / names(number)
            with webdataset.TarWriter(str(shard), user="", group="", mode=0o644, mtime=0) as sink:
                for row in range(start, start + count):
                    sink.write(
                        {
                            "__key__": sample_key(first + row),
                            extension: blobs[row],
                            "cls": int(labels[row]),
                        }
                    )
            rows += listed_rows(shard, number, extension)
        return np.array(rows, dtype=np.int64).reshape(-1, 4)

    def open(self, path: Path, *, workers: int | None = None) -> DocumentedTarReader:
        return DocumentedTarReader(path, self.codec, workers)


class FastTarStore(TarStore):
    implementation = "fast"

    def write_shards(
        self,
        path: Path,
        images: np.ndarray,
        labels: np.ndarray,
        first: int,
        names: Callable[[int], str],
        workers: int | None,
    ) -> np.ndarray:
        blobs = encode_many(self.codec, images, workers)
        counts = shard_counts(sample_sizes(blobs, labels), self.shard_bytes)
        rows = np.empty((len(images), 4), dtype=np.int64)
        extension = self.codec.extension
        starts = itertools.accumulate(counts, initial=0)
        for number, (start, count) in enumerate(zip(starts, counts, strict=False)):
            parts: list[bytes] = []
            position = 0
            for row in range(start, start + count):
                key, label, blob = sample_key(first + row), int(labels[row]), blobs[row]
                for name, data in (
                    (f"{key}.cls".encode(), label_bytes(label)),
                    (f"{key}.{extension}".encode(), blob),
                ):
                    header = ustar_header(name, len(data))
                    parts += [header, data, bytes(padded(len(data)) - len(data))]
                    position += len(header) + padded(len(data))
                rows[row] = (number, position - padded(len(blob)), len(blob), label)
            end = position + 2 * BLOCK  # tar's two zero blocks, then zeros up to a whole record
            parts.append(bytes(2 * BLOCK + (-end) % RECORD))
            (path / names(number)).write_bytes(b"".join(parts))
        return rows

    def open(self, path: Path, *, workers: int | None = None) -> FastTarReader:
        return FastTarReader(path, self.codec, workers)


STORES: dict[str, Store] = {"documented": DocumentedTarStore(), "fast": FastTarStore()}
