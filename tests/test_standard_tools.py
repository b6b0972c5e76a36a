"""Stores open in their formats' own tools, with no imgbench code: `mdb_dump` for LMDB (SQLite,
LevelDB and tar have theirs in their own test modules)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgbench.codecs import Codec
from imgbench.stores import get_store

needs_mdb_dump = pytest.mark.skipif(
    shutil.which("mdb_dump") is None,
    reason="mdb_dump is missing: `make test` installs Debian's lmdb-utils when run as root",
)


def mdb_dump(path: Path) -> dict[bytes, bytes]:
    """Every key and value of an LMDB environment, as LMDB's own `mdb_dump` prints them."""
    output = subprocess.run(
        ["mdb_dump", str(path)], check=True, capture_output=True, text=True
    ).stdout
    lines = output.split("HEADER=END\n", 1)[1].split("DATA=END", 1)[0].split()
    return {
        bytes.fromhex(key): bytes.fromhex(value)
        for key, value in zip(lines[::2], lines[1::2], strict=True)
    }


@needs_mdb_dump
@pytest.mark.parametrize("codec", ["png", "raw"])
def test_mdb_dump_reads_an_encoded_lmdb_store(codec: str, images, tmp_path: Path) -> None:
    pixels, labels = images
    get_store("lmdb", "fast", Codec(codec)).write_many(tmp_path / "store", pixels, labels)
    records = mdb_dump(tmp_path / "store")
    meta = json.loads(records.pop(b"meta"))
    assert meta == {"count": 40, "shape": [32, 32, 3], "codec": codec}
    assert sorted(records) == [f"{index:08d}".encode() for index in range(40)]
    for index, value in enumerate(records[f"{i:08d}".encode()] for i in range(40)):
        assert value[0] == labels[index]
        if codec == "png":
            image = np.asarray(Image.open(io.BytesIO(value[1:]), formats=["PNG"]))
        else:
            image = np.frombuffer(value[1:], dtype=np.uint8).reshape(32, 32, 3)
        np.testing.assert_array_equal(image, pixels[index])
