"""The CIFAR-10 python archive: downloaded (or the user's own copy), verified and extracted.

Every step treats its input as untrusted: the archive is checked against its MD5 before use, and
only the members the real archive has are extracted (no links, nothing outside the target
folder); `imgbench.batches` then unpickles them. Every output is written to a temporary name and
renamed into place, so a failure leaves nothing behind.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from imgbench.atomic_files import atomic_path
from imgbench.checksums import file_digest
from imgbench.errors import ArchiveError, ChecksumError, DatasetError

ARCHIVE_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
ARCHIVE_MEMBERS = (*TRAIN_BATCHES, "test_batch", "batches.meta", "readme.html")
CIFAR10_TRAINING_IMAGES = 50_000
WAYS_OUT = (
    "If this machine cannot reach the URL, either set `dataset.archive` to the path of a "
    "cifar-10-python.tar.gz you already have, or run offline with `dataset.source: synthetic` "
    "(e.g. `--configfile config/synthetic.yaml`)."
)


def verify_md5(path: Path, expected: str) -> None:
    """Fail with both checksums named when `path` is not the archive we expect."""
    actual = file_digest(path, "md5")
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


def training_images(dataset: Mapping[str, object]) -> int:
    """How many training images the configured archive holds."""
    if dataset["source"] == "synthetic":
        return int(dataset["synthetic_images"])  # type: ignore[call-overload]
    return CIFAR10_TRAINING_IMAGES


def write_checksum(path: Path, md5: str) -> None:
    """The `.md5` file beside a verified archive, which extraction checks the archive against."""
    with atomic_path(path) as partial:
        partial.write_text(f"{md5}\n")


def fetch_verified_archive(
    archive: Path,
    checksum: Path,
    md5: str,
    url: str,
    local_archive: str | None,
    retries: int,
    timeout_seconds: float,
) -> None:
    """The download job: a verified archive and its checksum file."""
    fetch_archive(
        archive,
        md5,
        url=url,
        local_archive=Path(local_archive) if local_archive else None,
        retries=retries,
        timeout=timeout_seconds,
    )
    write_checksum(checksum, md5)
    print(f"fetched and verified {archive} (MD5 {md5})")


def extract_verified_archive(archive: Path, checksum: Path, out: Path) -> None:
    """The extraction job: the archive checked against its checksum file, then extracted."""
    verify_md5(archive, checksum.read_text().strip())
    extract_archive(archive, out)
    print(f"verified and extracted {archive} into {out}")
