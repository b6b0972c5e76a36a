"""From the CIFAR-10 python archive to one verified image pool.

Every step treats its input as untrusted: the archive is checked against its MD5 before use, only
the members the real archive has are extracted (no links, nothing outside the target folder), and
the batches are unpickled by an unpickler that can build NumPy arrays and nothing else. Every
output is written to a temporary name and renamed into place, so a failure leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np

from imgbench.errors import (
    ArchiveError,
    ChecksumError,
    DatasetError,
    UnsafePickleError,
)
from imgbench.files import atomic_path

ARCHIVE_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
ARCHIVE_MEMBERS = (*TRAIN_BATCHES, "test_batch", "batches.meta", "readme.html")
IMAGE_SHAPE = (32, 32, 3)
PIXELS_PER_IMAGE = 32 * 32 * 3
NUM_CLASSES = 10
CIFAR10_TRAINING_IMAGES = 50_000
WAYS_OUT = (
    "If this machine cannot reach the URL, either set `dataset.archive` to the path of a "
    "cifar-10-python.tar.gz you already have, or run offline with `dataset.source: synthetic` "
    "(e.g. `--configfile config/synthetic.yaml`)."
)


def file_md5(path: Path) -> str:
    """MD5 of a file, read in blocks so a 163 MB archive never sits in memory twice."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_md5(path: Path, expected: str) -> None:
    """Fail with both checksums named when `path` is not the archive we expect."""
    actual = file_md5(path)
    if actual != expected.lower():
        raise ChecksumError(
            f"{path} has MD5 {actual}, but {expected.lower()} was expected. The file is corrupt, "
            "truncated or not the CIFAR-10 python archive: delete it and fetch it again, or fix "
            "`dataset.md5` if you meant to use a different archive."
        )


def fetch_archive(
    out: Path,
    md5: str,
    *,
    url: str | None = None,
    local_archive: Path | None = None,
    retries: int = 3,
    timeout: float = 60.0,
    backoff: float = 2.0,
) -> None:
    """Put a verified copy of the archive at `out`, from `local_archive` if given, else from `url`.

    A copy that fails verification never reaches `out`.
    """
    with atomic_path(out) as partial:
        if local_archive is not None:
            if not local_archive.is_file():
                raise DatasetError(
                    f"`dataset.archive` is {local_archive}, which is not a file. Point it at a "
                    "cifar-10-python.tar.gz, or remove the key to download the archive."
                )
            shutil.copyfile(local_archive, partial)
        elif url is not None:
            _download(url, partial, retries=retries, timeout=timeout, backoff=backoff)
        else:
            raise DatasetError("Neither `dataset.url` nor `dataset.archive` is set.")
        verify_md5(partial, md5)


def _download(url: str, dest: Path, *, retries: int, timeout: float, backoff: float) -> None:
    """Download with a fixed number of attempts; the last failure explains the ways out."""
    last_error: Exception | None = None
    for attempt in range(1, retries + 1):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, dest.open("wb") as sink:
                shutil.copyfileobj(response, sink, 1 << 20)
            return
        except urllib.error.HTTPError as error:
            last_error = error
            if 400 <= error.code < 500 and error.code not in (408, 429):
                break  # the server said no; asking again will not change its mind
        except (urllib.error.URLError, OSError) as error:
            last_error = error
        if attempt < retries:
            time.sleep(backoff * attempt)
    raise DatasetError(
        f"Could not download {url} after {attempt} attempt(s): {_reason(last_error)}. {WAYS_OUT}"
    )


def _reason(error: Exception | None) -> str:
    if isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError):
        return str(error.reason)
    return str(error)


def extract_archive(archive: Path, dest: Path) -> None:
    """Extract the CIFAR-10 members of `archive` into `dest`, refusing anything unexpected.

    Members are checked before anything is written, and written by us (not by tarfile) into a
    temporary folder that replaces `dest` only when every member is out.
    """
    expected = {f"{ARCHIVE_FOLDER}/{name}" for name in ARCHIVE_MEMBERS}
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        with _open_tar(archive) as tar:
            members = [m for m in _checked_members(tar, archive) if m.isfile()]
            missing = expected - {m.name for m in members}
            if missing:
                raise ArchiveError(
                    f"{archive} lacks {', '.join(sorted(missing))}: it is not a complete CIFAR-10 "
                    "python archive. Fetch it again."
                )
            for member in members:
                source = tar.extractfile(member)
                if source is None:
                    raise ArchiveError(f"{archive}: member {member.name} cannot be read.")
                target = staging / PurePosixPath(member.name).name
                with source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise ArchiveError(
            f"{archive} is not a readable tar.gz archive ({error}). It may be truncated or not "
            "the CIFAR-10 python archive: delete it and fetch it again."
        ) from error
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _open_tar(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, mode="r:gz")
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ArchiveError(
            f"{archive} is not a gzip-compressed tar archive ({error}). Delete it and fetch the "
            "CIFAR-10 python archive again."
        ) from error


def _checked_members(tar: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    """All members, after refusing links, devices, escaping paths and names CIFAR-10 lacks."""
    allowed_files = {f"{ARCHIVE_FOLDER}/{name}" for name in ARCHIVE_MEMBERS}
    members = tar.getmembers()
    for member in members:
        name = member.name
        parts = PurePosixPath(name).parts
        if name.startswith("/") or ".." in parts or "\\" in name:
            raise ArchiveError(f"{archive}: member {name!r} would escape the target folder.")
        if not (member.isfile() or member.isdir()):
            kind = "link" if (member.issym() or member.islnk()) else "special file"
            raise ArchiveError(f"{archive}: member {name!r} is a {kind}; refused.")
        normalised = str(PurePosixPath(name))
        if member.isdir() and normalised == ARCHIVE_FOLDER:
            continue
        if member.isfile() and normalised in allowed_files:
            member.name = normalised
            continue
        raise ArchiveError(
            f"{archive}: unexpected member {name!r}; a CIFAR-10 python archive holds only "
            f"{ARCHIVE_FOLDER}/ with {', '.join(ARCHIVE_MEMBERS)}."
        )
    return members


def _numpy_reconstruct() -> Callable[..., np.ndarray]:
    """The function NumPy pickles arrays with, found without naming a private module."""
    return np.zeros(1).__reduce__()[0]


class CifarUnpickler(pickle.Unpickler):
    """Unpickles CIFAR-10 batches and refuses every global but NumPy's array reconstruction."""

    _ALLOWED: dict[tuple[str, str], object] = {
        ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct(),
        ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct(),
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module: str, name: str) -> object:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refused to load global {module}.{name}: CIFAR-10 batches only need NumPy "
                "arrays, so this file is not a genuine batch (it may be hostile)."
            ) from None


def load_pickle(stream: BinaryIO, source: str) -> object:
    """Unpickle one CIFAR-10 file with `CifarUnpickler`, naming `source` in any error."""
    try:
        return CifarUnpickler(stream, encoding="bytes").load()
    except UnsafePickleError as error:
        raise UnsafePickleError(f"{source}: {error}") from None
    except Exception as error:  # a damaged pickle can raise almost anything; name the file
        raise DatasetError(f"{source} is not a readable pickle ({error!r}).") from error


@dataclass(frozen=True)
class Batch:
    """One CIFAR-10 batch as HWC images and labels."""

    images: np.ndarray  # uint8, (n, 32, 32, 3)
    labels: np.ndarray  # uint8, (n,)


def read_batch(path: Path) -> Batch:
    """Load and validate one batch file, naming the batch and the problem on any error."""
    with path.open("rb") as stream:
        content = load_pickle(io.BufferedReader(stream), path.name)
    return batch_from_dict(content, path.name)


def batch_from_dict(content: object, name: str) -> Batch:
    """Check a batch's keys, shape, dtype and labels, then convert the rows to HWC images."""
    if not isinstance(content, dict) or not {b"data", b"labels"} <= content.keys():
        keys = sorted(map(repr, content)) if isinstance(content, dict) else type(content).__name__
        raise DatasetError(f"{name}: expected a dict with b'data' and b'labels', found {keys}.")
    data, labels = content[b"data"], content[b"labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        kind = data.dtype if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetError(f"{name}: b'data' must be a uint8 array, found {kind}.")
    if data.ndim != 2 or data.shape[1] != PIXELS_PER_IMAGE or data.shape[0] == 0:
        raise DatasetError(
            f"{name}: b'data' must have shape (images, {PIXELS_PER_IMAGE}), found {data.shape}."
        )
    if not isinstance(labels, list) or not all(type(label) is int for label in labels):
        raise DatasetError(f"{name}: b'labels' must be a list of ints.")
    if len(labels) != data.shape[0]:
        raise DatasetError(f"{name}: {data.shape[0]} images but {len(labels)} labels.")
    label_array = np.asarray(labels, dtype=np.int64)
    if label_array.min() < 0 or label_array.max() >= NUM_CLASSES:
        raise DatasetError(
            f"{name}: labels must lie in 0..{NUM_CLASSES - 1}, found "
            f"{label_array.min()}..{label_array.max()}."
        )
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return Batch(np.ascontiguousarray(images), label_array.astype(np.uint8))


def build_pool(batch_folder: Path, out: Path) -> int:
    """Concatenate the five training batches, in order, into one `.npz` pool; return its size."""
    batches = [read_batch(batch_folder / name) for name in TRAIN_BATCHES]
    images = np.concatenate([batch.images for batch in batches])
    labels = np.concatenate([batch.labels for batch in batches])
    with atomic_path(out) as partial, partial.open("wb") as sink:
        np.savez(sink, images=images, labels=labels)
    return len(labels)


@dataclass(frozen=True)
class Pool:
    """The training images, repeated in order up to any requested count as the tutorial does."""

    images: np.ndarray
    labels: np.ndarray

    @classmethod
    def load(cls, path: Path) -> Pool:
        with np.load(path, allow_pickle=False) as content:
            return cls(content["images"], content["labels"])

    def __len__(self) -> int:
        return len(self.labels)

    def first(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The first `count` images and labels of the pool repeated end to end."""
        indices = np.arange(count) % len(self)
        return self.images[indices], self.labels[indices]


def training_images(dataset: Mapping[str, object]) -> int:
    """How many training images the configured archive holds."""
    if dataset["source"] == "synthetic":
        return int(dataset["synthetic_images"])  # type: ignore[call-overload]
    return CIFAR10_TRAINING_IMAGES
