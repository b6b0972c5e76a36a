"""The codec axis: each codec's bytes and back, and encoding and decoding many images on every
core (`imgbench.parallel`) with the same result as one process."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imgbench import parallel
from imgbench.codecs import NAMES, Codec, psnr
from imgbench.errors import StoreError
from imgbench.synthetic import synthetic_images

LOSSLESS = ("raw", "png", "qoi", "zstd")


@pytest.fixture(scope="module")
def many() -> np.ndarray:
    """More images than `POOL_MIN_IMAGES`, so that two workers use a pool."""
    pixels, _ = synthetic_images(1200, seed=11)
    assert len(pixels) > parallel.POOL_MIN_IMAGES
    return pixels


def test_the_codecs_are_named_once() -> None:
    assert NAMES == ("raw", "png", "qoi", "jpeg", "zstd")
    assert [Codec(name).lossless for name in NAMES] == [True, True, True, False, True]
    assert [Codec(name).extension for name in NAMES] == ["rgb", "png", "qoi", "jpg", "rgb.zst"]


@pytest.mark.parametrize("name", LOSSLESS)
def test_a_lossless_codec_gives_back_exactly_the_image(name: str, images) -> None:
    pixels, _ = images
    codec = Codec(name)
    for image in pixels[:10]:
        data = codec.encode(image)
        np.testing.assert_array_equal(codec.decoded(data, image.shape), image)
    assert parallel.expected_images(codec, pixels) is pixels


def test_raw_bytes_are_the_pixels_and_encoded_codecs_are_smaller(images) -> None:
    pixels, _ = images
    assert Codec("raw").encode(pixels[0]) == pixels[0].tobytes()
    raw_bytes = sum(len(Codec("raw").encode(image)) for image in pixels)
    jpeg_bytes = sum(len(Codec("jpeg").encode(image)) for image in pixels)
    assert jpeg_bytes < raw_bytes
    assert Codec("png").encode(pixels[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert Codec("qoi").encode(pixels[0])[:4] == b"qoif"


def test_jpeg_reads_are_checked_against_its_decoder_not_the_source(images) -> None:
    pixels, _ = images
    codec = Codec("jpeg", jpeg_quality=90)
    decoded = np.stack([codec.decoded(codec.encode(image), image.shape) for image in pixels])
    expected = parallel.expected_images(codec, pixels)
    assert expected.dtype == np.uint8 and expected.shape == pixels.shape
    np.testing.assert_array_equal(expected, decoded)
    assert not np.array_equal(expected, pixels)  # lossy: the source is not what a read returns


def test_jpeg_quality_sets_the_size_and_the_error(images) -> None:
    pixels, _ = images
    low, high = Codec("jpeg", jpeg_quality=20), Codec("jpeg", jpeg_quality=95)
    assert sum(len(low.encode(image)) for image in pixels) < sum(
        len(high.encode(image)) for image in pixels
    )
    assert psnr(pixels, parallel.expected_images(low, pixels)) < psnr(
        pixels, parallel.expected_images(high, pixels)
    )


@pytest.mark.parametrize("name", NAMES)
def test_decoding_garbage_names_where_it_came_from(name: str) -> None:
    out = np.empty((32, 32, 3), dtype=np.uint8)
    with pytest.raises(StoreError, match=rf"^store/key 00000007: not a {name} image"):
        Codec(name).decode(b"not an image at all", out, "store/key 00000007")


def test_decoding_another_codecs_bytes_or_shape_is_refused(images) -> None:
    pixels, _ = images
    png = Codec("png").encode(pixels[0])
    with pytest.raises(StoreError, match="a.qoi: not a qoi image"):
        Codec("qoi").decoded(png, (32, 32, 3), "a.qoi")
    with pytest.raises(StoreError, match=r"a.png: not a png image of shape \(16, 16, 3\)"):
        Codec("png").decoded(png, (16, 16, 3), "a.png")


def test_psnr_of_identical_images_is_infinite_and_of_jpeg_q90_plausible() -> None:
    pixels, _ = synthetic_images(200, seed=4)
    assert psnr(pixels, pixels.copy()) == math.inf
    decoded = parallel.expected_images(Codec("jpeg", jpeg_quality=90), pixels)
    assert 25 < psnr(pixels, decoded) < 60
    off_by_one = pixels.astype(np.int16) + 1
    assert psnr(pixels, off_by_one) == pytest.approx(20 * math.log10(255))


def test_pool_size_and_chunks() -> None:
    assert parallel.pool_size(2, parallel.POOL_MIN_IMAGES - 1) == 1
    assert parallel.pool_size(2, parallel.POOL_MIN_IMAGES) == 2
    assert parallel.pool_size(1, 10 * parallel.POOL_MIN_IMAGES) == 1
    bounds = parallel.chunks(1200, 2)
    assert len(bounds) == 2 * parallel.CHUNKS_PER_WORKER
    assert bounds[0][0] == 0 and bounds[-1][1] == 1200
    assert all(stop == start for (_, stop), (start, _) in zip(bounds, bounds[1:], strict=False))
    assert parallel.chunks(3, 2) == [(0, 1), (1, 2), (2, 3)]  # no empty chunk


def spy_on_pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The process counts of the pools `run_in_pool` starts from now on."""
    pools: list[int] = []
    run_in_pool = parallel.run_in_pool

    def counted(processes: int, *args: object, **kwargs: object) -> None:
        pools.append(processes)
        run_in_pool(processes, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel, "run_in_pool", counted)
    return pools


@pytest.mark.parametrize("name", ["png", "qoi", "jpeg"])
def test_decode_many_uses_a_pool_and_gives_what_one_process_gives(
    name: str, many: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    codec = Codec(name)
    blobs = [codec.encode(image) for image in many]
    pools = spy_on_pools(monkeypatch)
    alone = parallel.decode_many(codec, blobs, many.shape[1:], 1)
    assert pools == []
    pooled = parallel.decode_many(codec, blobs, many.shape[1:], 2)
    assert pools == [2]
    assert pooled.dtype == np.uint8 and pooled.shape == many.shape
    np.testing.assert_array_equal(pooled, alone)
    if codec.lossless:
        np.testing.assert_array_equal(pooled, many)
    assert parallel._job == {}  # nothing a later pool would inherit by mistake


def test_decode_many_of_raw_pixels_needs_no_pool(many: np.ndarray, monkeypatch) -> None:
    pools = spy_on_pools(monkeypatch)
    blobs = [image.tobytes() for image in many]
    np.testing.assert_array_equal(parallel.decode_many(Codec("raw"), blobs, (32, 32, 3), 2), many)
    assert pools == []


def test_a_damaged_blob_in_a_pool_is_named(many: np.ndarray) -> None:
    codec = Codec("png")
    blobs = [codec.encode(image) for image in many]
    blobs[700] = b"damaged"
    with pytest.raises(StoreError, match="store key 700: not a png image"):
        parallel.decode_many(codec, blobs, (32, 32, 3), 2, lambda row: f"store key {row}")


@pytest.mark.parametrize("name", ["png", "jpeg"])
def test_encode_many_keeps_the_order_of_the_images(name: str, many: np.ndarray) -> None:
    codec = Codec(name)
    one_by_one = [codec.encode(image) for image in many]
    assert parallel.encode_many(codec, many, 2) == one_by_one
    assert parallel.encode_many(codec, many, 1) == one_by_one
    assert parallel.encode_many(codec, many[:0], 2) == []


def test_expected_images_are_the_same_on_one_or_two_workers(many: np.ndarray) -> None:
    codec = Codec("jpeg", jpeg_quality=75)
    np.testing.assert_array_equal(
        parallel.expected_images(codec, many, 2), parallel.expected_images(codec, many, 1)
    )
