"""The disk job: a store's size as coreutils `du` reports it, and one checksum of its data."""

from __future__ import annotations

import subprocess
from pathlib import Path

from imgbench.atomic_files import write_rows
from imgbench.cells import DISK_COLUMNS, SIZE_COLUMN
from imgbench.errors import StoreError
from imgbench.stores.base import Store


def disk_usage_kib(path: Path) -> tuple[int, int]:
    """(allocated, apparent) KiB of a folder: `du -sk`, and `du -sk --apparent-size`."""

    def du(*options: str) -> int:
        try:
            output = subprocess.run(
                ["du", "-sk", *options, str(path)], check=True, capture_output=True, text=True
            ).stdout
        except (OSError, subprocess.CalledProcessError) as error:
            raise StoreError(f"`du` failed on {path}: {error}") from error
        return int(output.split()[0])

    return du(), du("--apparent-size")


def measure_store(
    store: Store, image_size: int, n_images: int, store_dir: Path, table: Path
) -> None:
    """`du` of the store and one checksum of its data, so two runs' stores can be compared."""
    allocated, apparent = disk_usage_kib(store_dir)
    checksum = store.checksum(store_dir)
    row = store.series_columns() | {
        SIZE_COLUMN: image_size,
        "n_images": n_images,
        "kib_allocated": allocated,
        "kib_apparent": apparent,
    }
    write_rows(table, DISK_COLUMNS, [row | {"sha256": checksum}])
    print(f"{store_dir}: {allocated} KiB allocated, {apparent} KiB apparent, SHA-256 {checksum}")
