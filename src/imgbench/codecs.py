"""How each image's bytes are encoded inside a store: the codec axis, apart from the container.

A store is a container (files, LMDB, SQLite, LevelDB, tar shards...) holding every image as the
bytes of one codec:
- `raw`: the uint8 pixels, row-major HWC, no header (the container records the shape);
- `png`: lossless PNG (zlib level 6, libpng's and Pillow's default);
- `qoi`: lossless QOI, a simple format made to encode and decode fast;
- `jpeg`: lossy baseline JPEG (libjpeg-turbo) at `jpeg_quality`, 4:2:0 chroma;
- `zstd`: the raw pixels compressed with Zstandard at `ZSTD_LEVEL`, the generic compression the
  array formats apply per chunk (with one image per chunk, the same thing per image).

All five come from one library, imagecodecs, so every container encodes and decodes a codec with
the same code. Measured on 10,000 photo-like 32x32 images, one core, decoding into a preallocated
batch (min of 5 runs, µs per image; the machine was shared, so rankings held, absolutes are rough;
2026-11-25, 2-core VM):

| codec | imagecodecs enc / dec | Pillow enc / dec | simplejpeg enc / dec |
|---|---|---|---|
| PNG (level 6) | 181 / 54 | 277 / 155 | — |
| QOI | 19 / 11 | 2645 / 2444 (pure Python plugin) | — |
| JPEG q90 4:2:0 | 17 / 19 | 95 / 179 | 21 / 29 |

imagecodecs won: fastest or tied on every codec, a C QOI, decoding into `out=` (a row of a shared
result array) from any buffer without a copy. Its JPEG bytes and pixels are identical to Pillow's;
simplejpeg is no faster and has no PNG or QOI. JPEG uses 4:2:0 chroma, Pillow's default and
libjpeg's (1,038 bytes, 31.8 dB PSNR at q90; 4:4:4 would give 1,162 bytes, 35.6 dB), passed
explicitly so a library default cannot change it.

Zstandard on the same images (one core, min of 5, µs per image, 2026-11-26, machine busy): level 1
encodes in 17.6 and decodes in 20.2 to 2,922 bytes, level 3 in 34.6 / 16.8 to 2,919, level 9 in
81.7 / 17.9 to 2,917 (raw: 3,072; PNG: 2,166): small noisy photos barely compress without an
image model, and the level hardly matters, so `ZSTD_LEVEL` is libzstd's own default, 3.

A lossy codec's reads are verified against what its decoder returns for the stored bytes
(`imgbench.parallel.expected_images`, computed once outside any timing), so every read is still
checked exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import imagecodecs
import numpy as np

from imgbench.errors import ConfigError, StoreError

NAMES = ("raw", "png", "qoi", "jpeg", "zstd")
DEFAULT_JPEG_QUALITY = 90
JPEG_CHROMA = "420"  # chroma subsampling: see the module docstring
ZSTD_LEVEL = 3  # libzstd's default: see the module docstring


@dataclass(frozen=True)
class Codec:
    """One way of turning an HWC uint8 image into bytes and back."""

    name: str
    jpeg_quality: int = DEFAULT_JPEG_QUALITY  # used by `jpeg` only

    def __post_init__(self) -> None:
        if self.name not in NAMES:
            raise ConfigError(f"unknown codec {self.name!r}; known: {', '.join(NAMES)}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ConfigError(
                f"JPEG quality {self.jpeg_quality} is outside 1-100: set `jpeg_quality` to a "
                "whole number from 1 (smallest) to 100 (best)"
            )

    @property
    def lossless(self) -> bool:
        return self.name != "jpeg"

    @property
    def extension(self) -> str:
        """The file extension of one encoded image (WebDataset member suffixes use it too)."""
        return {"raw": "rgb", "png": "png", "qoi": "qoi", "jpeg": "jpg", "zstd": "rgb.zst"}[
            self.name
        ]

    def encode(self, image: np.ndarray) -> bytes:
        if self.name == "raw":
            return np.ascontiguousarray(image, dtype=np.uint8).tobytes()
        if self.name == "png":
            return imagecodecs.png_encode(image)
        if self.name == "qoi":
            return imagecodecs.qoi_encode(image)
        if self.name == "zstd":
            return imagecodecs.zstd_encode(np.ascontiguousarray(image, np.uint8), level=ZSTD_LEVEL)
        return imagecodecs.jpeg8_encode(image, level=self.jpeg_quality, subsampling=JPEG_CHROMA)

    def decode(self, data: bytes | memoryview, out: np.ndarray, where: object = None) -> None:
        """Decode `data` into `out` (H, W, 3) uint8; a StoreError naming `where` (a file, key or
        member), if given, when the bytes are not one image of this codec and shape."""
        try:
            if self.name == "raw":
                if len(data) != out.nbytes:
                    raise ValueError(f"{len(data)} bytes, expected {out.nbytes}")
                out.reshape(-1)[:] = np.frombuffer(data, dtype=np.uint8)
            elif self.name == "png":
                imagecodecs.png_decode(data, out=out)
            elif self.name == "qoi":
                imagecodecs.qoi_decode(data, out=out)
            elif self.name == "zstd":
                decoded = imagecodecs.zstd_decode(data, out=out.reshape(-1))
                if len(decoded) != out.nbytes:
                    raise ValueError(f"{len(decoded)} bytes, expected {out.nbytes}")
            else:
                imagecodecs.jpeg8_decode(data, out=out)
        except (ValueError, RuntimeError) as error:
            problem = (
                f"not a {self.name} image of shape {out.shape} ({error}); the store is damaged "
                "or holds another codec: rebuild it"
            )
            raise StoreError(problem if where is None else f"{where}: {problem}") from error

    def decoded(
        self, data: bytes | memoryview, shape: tuple[int, ...], where: object = None
    ) -> np.ndarray:
        image = np.empty(shape, dtype=np.uint8)
        self.decode(data, image, where)
        return image


def psnr(source: np.ndarray, decoded: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of `decoded` against `source` (inf when identical)."""
    error = np.mean((source.astype(np.float64) - decoded.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else float(10 * np.log10(255.0**2 / error))


def get_codec(name: str, jpeg_quality: int = DEFAULT_JPEG_QUALITY) -> Codec:
    return Codec(name, jpeg_quality)
