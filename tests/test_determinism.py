"""Two builds of a store from the same images are byte-identical, so runs compare by checksum."""

from __future__ import annotations

import time
from pathlib import Path

from imgbench.codecs import Codec
from imgbench.stores import formats, get_store, implementations

# Every implementation of every format in every codec it holds.
ALL_STORES = [
    get_store(method, name, Codec(codec))
    for method in formats()
    for name in implementations(method)
    for codec in get_store(method, name).codecs
]


def test_the_same_images_give_the_same_bytes(images, tmp_path: Path) -> None:
    def build_all(folder: str) -> dict[str, str]:
        checksums = {}
        for store in ALL_STORES:
            path = tmp_path / folder / store.key
            store.write_many(path, *images)
            checksums[store.key] = store.checksum(path)
        return checksums

    first = build_all("first")
    time.sleep(1.1)  # timestamps a format recorded (in seconds) would now differ
    assert build_all("second") == first
    # Stores of different formats or codecs differ; implementations of one format may share a
    # layout (tar's write the same shards).
    kinds: dict[str, set[tuple[str, str]]] = {}
    for store in ALL_STORES:
        kinds.setdefault(first[store.key], set()).add((store.format, store.codec.name))
    assert all(len(kind) == 1 for kind in kinds.values()), kinds
