"""What machine and software produced a set of numbers: timings mean nothing without it."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

LIBRARIES = (
    "snakemake",
    "numpy",
    "pillow",
    "lmdb",
    "h5py",
    "pandas",
    "matplotlib",
    "imagecodecs",
    "plyvel",
    "webdataset",
    "pyarrow",
    "pylance",
    "zarr",
    "tensorstore",
    "hdf5plugin",
    "tiledb",
)


def _first_line_value(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        return None
    return None


def nearest_existing(path: Path) -> Path:
    """`path` if it exists, else its closest existing ancestor: where it would be created."""
    absolute = path.resolve()
    return next(folder for folder in (absolute, *absolute.parents) if folder.exists())


def filesystem(path: Path) -> dict[str, str]:
    """Type and mount options of the filesystem holding `path` (they change I/O timings), or
    that would hold it: its nearest existing folder is asked when `path` is not there (yet)."""
    existing = nearest_existing(path)
    try:
        output = subprocess.run(
            ["findmnt", "--noheadings", "--output", "FSTYPE,OPTIONS", "--target", str(existing)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        return {"type": output[0], "options": output[1]}
    except (OSError, subprocess.CalledProcessError, IndexError):
        return {"type": "unknown", "options": "unknown"}


def package_versions() -> dict[str, str]:
    """Installed versions of the Python packages whose speed is measured (cheap: no imports)."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def library_versions() -> dict[str, str]:
    """Package versions plus the C libraries under lmdb, h5py, plyvel and sqlite3, which set
    their speed."""
    import sqlite3

    import h5py
    import lmdb
    import plyvel

    versions = package_versions()
    versions["lmdb C library"] = ".".join(map(str, lmdb.version()))
    versions["HDF5 C library"] = h5py.version.hdf5_version
    versions["LevelDB C library"] = plyvel.__leveldb_version__
    versions["SQLite C library"] = sqlite3.sqlite_version
    return versions


def describe(results: Path) -> dict[str, object]:
    """CPU, cores, memory, OS and the results folder's filesystem."""
    memory_kib = _first_line_value("/proc/meminfo", "MemTotal")
    return {
        "cpu": _first_line_value("/proc/cpuinfo", "model name") or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gib": round(int(memory_kib.split()[0]) / 2**20, 1) if memory_kib else None,
        "os": platform.platform(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "filesystem": filesystem(results),
    }
