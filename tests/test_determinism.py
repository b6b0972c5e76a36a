"""Two builds of a store from the same images are byte-identical, so runs compare by checksum."""

from __future__ import annotations

import time
from pathlib import Path

from imgbench.checksums import tree_sha256
from imgbench.stores import formats, get_store, implementations

ALL_STORES = [get_store(method, name) for method in formats() for name in implementations(method)]


def test_the_same_images_give_the_same_bytes(images, tmp_path: Path) -> None:
    def build_all(folder: str) -> dict[str, str]:
        checksums = {}
        for store in ALL_STORES:
            path = tmp_path / folder / store.key
            store.write_many(path, *images)
            checksums[store.key] = tree_sha256(path, ignore=store.volatile)
        return checksums

    first = build_all("first")
    time.sleep(1.1)  # timestamps a format recorded (in seconds) would now differ
    assert build_all("second") == first
    assert len(set(first.values())) == len(ALL_STORES)  # and the formats differ from each other
