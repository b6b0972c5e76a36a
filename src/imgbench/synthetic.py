"""A deterministic stand-in for the CIFAR-10 "python version" archive.

The benchmark needs CIFAR-10, but tests and offline runs cannot download 163 MB. This module
writes an archive with exactly the real layout and pickle format, filled with generated images
that compress like small photos (smooth gradients and shapes plus mild noise), so storage
formats are measured on realistic data rather than on noise or flat colour.
"""

import gzip
import io
import os
import pickle
import tarfile
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache, partial
from pathlib import Path

import numpy as np

from imgbench import progress
from imgbench.checksums import file_digest
from imgbench.cifar import ARCHIVE_FOLDER, TRAIN_BATCHES, write_checksum

LABEL_NAMES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

_SIDE = 32  # CIFAR-10's images, the archive's
_CHUNK = 500  # 32 px images per thread task: many tasks to share out, a few MB of temporaries each
_MAX_SHAPES = 3
# Per-image noise level, tuned so a PNG of one image averages about 2 KB like real CIFAR-10.
_NOISE_SIGMA = (3.0, 9.0)


def synthetic_images(count: int, seed: int, side: int = _SIDE) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (count, side, side, 3) HWC, labels int64 (count,) in 0..9), deterministic
    in (count, seed, side), so a synthetic dataset can be regenerated instead of stored. Larger
    sides are rendered at that size, not upsampled, so their PNG and JPEG sizes stay those of
    photo-like images."""
    return _generate(count, np.random.default_rng(seed), side)


def write_synthetic_archive(path: Path, train_images: int, seed: int) -> str:
    """Write the archive to `path` atomically (temp file in the same folder, then os.replace; no
    partial file left at `path` on any error) and return its MD5 hex digest.

    Every byte is a function of the arguments (fixed tar and gzip metadata), so the digest can be
    pinned like the real archive's. The temp file lives in the target folder so os.replace stays
    on one file system and is atomic.
    """
    if train_images < 5:
        raise ValueError(
            f"train_images must be at least 5 (one per training batch), got {train_images}"
        )
    path = Path(path)
    # Create the temp file first, so an unwritable folder fails before any work is done.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            with (
                # Level 1: on noisy photo-like data, higher levels are slower and no smaller.
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0) as gz,
                tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar,
            ):
                tar.addfile(_tarinfo(ARCHIVE_FOLDER, tarfile.DIRTYPE, 0o755))
                for name, payload in _members(train_images, seed):
                    info = _tarinfo(f"{ARCHIVE_FOLDER}/{name}", tarfile.REGTYPE, 0o644)
                    info.size = len(payload)
                    tar.addfile(info, io.BytesIO(payload))
            raw.flush()
            os.fsync(raw.fileno())  # on disk before the rename makes it visible
        digest = file_digest(tmp, "md5")
        tmp.chmod(0o644)  # mkstemp creates 0o600; the archive is ordinary shared data
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return digest


def synthesize_archive(archive: Path, checksum: Path, images: int, seed: int) -> None:
    """The offline dataset job: a synthetic archive and its checksum file."""
    md5 = write_synthetic_archive(archive, images, seed)
    write_checksum(checksum, md5)
    print(f"wrote synthetic archive {archive}: {images} training images, seed {seed}, MD5 {md5}")


def _members(train_images: int, seed: int) -> Iterator[tuple[str, bytes]]:
    """(file name, content) of each file in the folder, in archive order, built one at a time."""
    rng = np.random.default_rng(seed)
    train_x, train_y = _generate(train_images, rng)  # the same as synthetic_images(...)
    # Continuing the same generator makes the test images a further, independent stream.
    test_x, test_y = _generate(train_images // 5, rng)  # >= 1 since train_images >= 5

    batch_x = np.array_split(train_x, len(TRAIN_BATCHES))
    batch_y = np.array_split(train_y, len(TRAIN_BATCHES))
    first = 0
    for i, (name, x, y) in enumerate(zip(TRAIN_BATCHES, batch_x, batch_y, strict=True), start=1):
        yield name, _batch_pickle(f"training batch {i} of {len(TRAIN_BATCHES)}", x, y, first)
        first += len(y)
    yield "test_batch", _batch_pickle("testing batch 1 of 1", test_x, test_y, train_images)
    meta = {
        b"label_names": [label.encode() for label in LABEL_NAMES],
        b"num_cases_per_batch": len(batch_y[0]),
        b"num_vis": _SIDE * _SIDE * 3,
    }
    yield "batches.meta", pickle.dumps(meta, protocol=4)
    yield "readme.html", _readme(seed, train_images, len(test_y))


def _generate(
    count: int, rng: np.random.Generator, side: int = _SIDE
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the labels, then render the images in chunks on all cores.

    Each chunk gets its own child generator spawned from `rng`, so the result does not depend
    on how the threads are scheduled (NumPy releases the GIL inside its array operations).
    """
    labels = rng.integers(0, len(LABEL_NAMES), size=count, dtype=np.int64)
    chunk_images = max(1, _CHUNK * _SIDE * _SIDE // (side * side))  # same temporaries per task
    starts = range(0, count, chunk_images)
    sizes = [min(chunk_images, count - start) for start in starts]
    images = np.empty((count, side, side, 3), dtype=np.uint8)
    with ThreadPoolExecutor() as pool:
        render = partial(_render, side=side)
        for start, chunk in zip(
            starts, pool.map(render, sizes, rng.spawn(len(sizes))), strict=True
        ):
            images[start : start + len(chunk)] = chunk
            progress.advanced(start + len(chunk), count, f"images rendered at {side} px")
    return images, labels


def _render(n: int, rng: np.random.Generator, side: int) -> np.ndarray:
    """Render n images: a two-colour gradient background, one to three shaded shapes, a light
    blur to soften edges, then Gaussian noise; returns uint8 (n, side, side, 3).

    Works channel-first so every full-size operation runs over contiguous planes, and builds
    each per-pixel coordinate field as (n, 1, side) + (n, side, 1), one full-size pass.
    The pixel arithmetic uses only exactly rounded operations (+, -, *, /, sqrt; no
    trigonometry), so the bytes do not depend on a CPU's or NumPy build's SIMD maths routines.
    """
    # Background: linear gradient between two colours along a random direction, t in [0, 1].
    cos, sin = _directions(n, rng)
    span = np.abs(cos) + np.abs(sin)
    grid = _grid(side)
    t = _linear(grid, cos / span, sin / span, np.float32(0.5), np.float32(0.5)) + 0.5
    colours = rng.uniform(0.0, 255.0, size=(2, n, 3, 1, 1)).astype(np.float32)
    img = colours[0] + t[:, None] * (colours[1] - colours[0])

    shape_count = rng.integers(1, _MAX_SHAPES + 1, size=(n, 1, 1))
    for k in range(_MAX_SHAPES):
        kind = rng.integers(0, 3, size=(n, 1, 1))  # 0 ellipse, 1 rectangle, 2 triangle
        cx, cy = rng.uniform(0.15, 0.85, size=(2, n, 1, 1)).astype(np.float32)
        rx, ry = rng.uniform(0.08, 0.35, size=(2, n, 1, 1)).astype(np.float32)
        base = rng.uniform(0.0, 255.0, size=(n, 3, 1, 1)).astype(np.float32)
        shade = rng.uniform(-40.0, 40.0, size=(n, 3, 1, 1)).astype(np.float32)
        # Shape-local coordinates, rotated and scaled so the boundary lies at |u|, |v| ~ 1.
        cos, sin = _directions(n, rng)
        u = _linear(grid, cos / rx, sin / rx, cx, cy)
        v = _linear(grid, -sin / ry, cos / ry, cx, cy)
        ellipse = u * u + v * v <= 1.0
        rectangle = np.maximum(np.abs(u), np.abs(v)) <= 1.0
        triangle = (v <= 1.0) & (2 * np.abs(u) <= v + 1.0)  # apex at v = -1, base at v = 1
        inside = np.where(kind == 0, ellipse, np.where(kind == 1, rectangle, triangle))
        inside &= k < shape_count
        # A gentle gradient across the shape (v is in [-1, 1] wherever `inside` holds).
        np.copyto(img, base + shade * v[:, None], where=inside[:, None])

    # Separable [1, 2, 1] blur with edge replication along rows, then columns; scaled at the end.
    for axis in (2, 3):
        blurred = 2 * img
        head, tail = [slice(None)] * 4, [slice(None)] * 4
        head[axis], tail[axis] = slice(None, -1), slice(1, None)
        blurred[tuple(tail)] += img[tuple(head)]
        blurred[tuple(head)] += img[tuple(tail)]
        head[axis], tail[axis] = slice(None, 1), slice(-1, None)
        blurred[tuple(head)] += img[tuple(head)]
        blurred[tuple(tail)] += img[tuple(tail)]
        img = blurred
    img *= 1 / 16

    # Luminance noise (one draw per pixel, shared by the channels), like sensor grain.
    sigma = rng.uniform(*_NOISE_SIGMA, size=(n, 1, 1, 1)).astype(np.float32)
    img += sigma * rng.standard_normal(size=(n, 1, side, side), dtype=np.float32)
    np.rint(img, out=img)
    np.clip(img, 0, 255, out=img)
    return img.transpose(0, 2, 3, 1).astype(np.uint8, order="C")


def _directions(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n uniformly random unit vectors as (cos, sin), each float32 (n, 1, 1); normalising a
    Gaussian pair avoids trigonometric functions, whose last bits differ between CPUs."""
    x, y = rng.standard_normal(size=(2, n, 1, 1))
    norm = np.sqrt(x * x + y * y)
    return (x / norm).astype(np.float32), (y / norm).astype(np.float32)


@cache
def _grid(side: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres in [0, 1]: x varies along columns (1, 1, side), y along rows (1, side, 1)."""
    x = ((np.arange(side, dtype=np.float32) + 0.5) / side).reshape(1, 1, side)
    return x, x.reshape(1, side, 1)


def _linear(
    grid: tuple[np.ndarray, np.ndarray],
    a: np.ndarray,
    b: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
) -> np.ndarray:
    """a * (x - x0) + b * (y - y0) over the pixel grid, per image: (n, side, side)."""
    x, y = grid
    return (x - x0) * a + (y - y0) * b


def _batch_pickle(label: str, images: np.ndarray, labels: np.ndarray, first_index: int) -> bytes:
    """Pickle one batch as the real archive does: bytes keys, planar RGB rows of 3072 bytes."""
    batch = {
        b"batch_label": label.encode(),
        b"labels": labels.tolist(),
        b"data": np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), -1)),
        b"filenames": [
            f"synthetic_{first_index + i + 1:06d}.png".encode() for i in range(len(images))
        ],
    }
    return pickle.dumps(batch, protocol=4)


def _readme(seed: int, train_images: int, test_images: int) -> bytes:
    """A short notice so nobody mistakes the extracted folder for the real dataset."""
    return (
        "<html><head><title>Synthetic CIFAR-10</title></head><body>\n"
        "<p>This is <b>synthetic</b> data generated by imgbench, not the real CIFAR-10 dataset: "
        f"{train_images} training and {test_images} test images of random shapes on gradients, "
        f"generated with seed {seed}.</p>\n"
        "</body></html>\n"
    ).encode()


def _tarinfo(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    """A tar header with fixed owner and time, so the archive bytes depend only on content."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
