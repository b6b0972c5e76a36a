"""PNG: one file per image, named by its zero-padded index, with all labels in `labels.csv`.

Pillow encodes and decodes one file at a time with its default settings, as most code that
stores images as files does; reads decode straight into a preallocated array.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from imgbench.errors import StoreError
from imgbench.stores.base import Reader, Store, checked_indices

LABELS_FILE = "labels.csv"


def image_file(path: Path, index: int) -> Path:
    return path / f"{index:08d}.png"


class PngReader(Reader):
    def __init__(self, path: Path) -> None:
        self._path = path
        try:
            lines = (path / LABELS_FILE).read_text().splitlines()
            self._labels = np.array([int(line) for line in lines[1:]], dtype=np.uint8)
        except (OSError, ValueError) as error:
            raise StoreError(f"{path}: unreadable {LABELS_FILE} ({error})") from error

    def __len__(self) -> int:
        return len(self._labels)

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, len(self))
        images: np.ndarray | None = None
        for row, index in enumerate(indices):
            file = image_file(self._path, int(index))
            try:
                with Image.open(file) as image:
                    pixels = np.asarray(image.convert("RGB") if image.mode != "RGB" else image)
            except OSError as error:
                raise StoreError(f"{file}: cannot read this image ({error})") from error
            if images is None:
                images = np.empty((len(indices), *pixels.shape), dtype=np.uint8)
            images[row] = pixels
        if images is None:
            images = np.empty((0, 0, 0, 3), dtype=np.uint8)
        return images, self._labels[indices]

    def close(self) -> None:
        """Nothing stays open: each image file is closed as soon as it is decoded."""


class PngStore(Store):
    method = "png"
    implementation = "fast"
    marker = LABELS_FILE

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        path.mkdir(parents=True, exist_ok=True)
        for index, image in enumerate(images):
            Image.fromarray(image).save(image_file(path, index), format="PNG")
        lines = ["label", *(str(int(label)) for label in labels)]
        (path / LABELS_FILE).write_text("\n".join(lines) + "\n")

    def open(self, path: Path, *, workers: int | None = None) -> PngReader:
        return PngReader(path)


STORES: dict[str, Store] = {"fast": PngStore()}
