"""A folder of the user's own images becomes a pool of squares: every colour mode and file format
arrives as the RGB a viewer shows, and every file that cannot be used is named with what to do."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from imgbench.resizing import RESIZE_FILTER, resize_images, square, to_rgb8


def gray16(mode: str, values: list[int]) -> Image.Image:
    """A one-row image of 16-bit `values` in `mode` (I;16 native order, I;16B or I;16L)."""
    order = {"I;16": "=", "I;16B": ">", "I;16L": "<"}[mode]
    data = np.array([values], dtype=f"{order}u2")
    return Image.frombytes(mode, (len(values), 1), data.tobytes())


def palette(transparent: bool) -> Image.Image:
    image = Image.new("P", (2, 1))
    image.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    image.putdata([0, 1])
    if transparent:
        image.info["transparency"] = 1
    return image


# mode: (an image of that mode, the RGB pixels of its first row it must become)
MODES = {
    "RGB": (Image.new("RGB", (1, 1), (1, 2, 3)), [(1, 2, 3)]),
    "L": (Image.new("L", (1, 1), 77), [(77, 77, 77)]),
    "1": (Image.frombytes("1", (2, 1), bytes([0b10000000])), [(255,) * 3, (0,) * 3]),
    "P": (palette(transparent=False), [(10, 20, 30), (200, 100, 50)]),
    "P with transparency": (palette(transparent=True), [(10, 20, 30), (200, 100, 50)]),
    "LA": (Image.new("LA", (1, 1), (100, 0)), [(100, 100, 100)]),
    "RGBA": (Image.new("RGBA", (1, 1), (10, 20, 30, 0)), [(10, 20, 30)]),
    "CMYK": (Image.new("CMYK", (1, 1), (0, 255, 255, 0)), [(255, 0, 0)]),
    "YCbCr": (Image.new("YCbCr", (1, 1), (255, 128, 128)), [(255, 255, 255)]),
    "I;16": (gray16("I;16", [65535, 32768, 255]), [(255,) * 3, (128,) * 3, (0,) * 3]),
    "I;16B": (gray16("I;16B", [65535, 32768, 511]), [(255,) * 3, (128,) * 3, (1,) * 3]),
    "I;16L": (gray16("I;16L", [65535, 32768, 511]), [(255,) * 3, (128,) * 3, (1,) * 3]),
    # Mode I holds 16-bit files (PPM/PGM, scaled to 0..65535) and, rarely, wider values.
    "I": (
        Image.fromarray(np.array([[65535, 32768, -5]], np.int32)),
        [(255,) * 3, (128,) * 3, (0,) * 3],
    ),
    "I beyond 16 bits": (
        Image.fromarray(np.array([[2**20 - 1, 2**19]], np.int32)),
        [(255,) * 3, (128,) * 3],
    ),
    "F in 0..1": (
        Image.fromarray(np.array([[1.0, 0.5, 0.0]], np.float32)),
        [(255,) * 3, (128,) * 3, (0,) * 3],
    ),
    "F in 0..255": (
        Image.fromarray(np.array([[200.0, 300.0, 2.0]], np.float32)),
        [(200,) * 3, (255,) * 3, (2,) * 3],
    ),
}


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_becomes_the_rgb_a_viewer_shows(mode: str) -> None:
    image, expected = MODES[mode]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow warns on P with transparency straight to RGB
        converted = to_rgb8(image)
    assert converted.mode == "RGB"
    assert np.asarray(converted)[0].tolist() == [list(pixel) for pixel in expected]


def bands(width: int, height: int, colours: list[tuple[int, int, int]]) -> Image.Image:
    """Vertical bands of `colours` across an image of width×height."""
    pixels = np.zeros((height, width, 3), np.uint8)
    for index, colour in enumerate(colours):
        pixels[:, index * width // len(colours) : (index + 1) * width // len(colours)] = colour
    return Image.fromarray(pixels)


@pytest.mark.parametrize(("width", "height", "side"), [(50, 37, 32), (500, 375, 64), (9, 12, 64)])
def test_square_is_the_centred_square_at_any_size(width: int, height: int, side: int) -> None:
    result = square(Image.new("L", (width, height), 90), side)
    assert result.shape == (side, side, 3) and result.dtype == np.uint8
    assert result.flags.c_contiguous
    assert (result == 90).all()


def test_square_crops_the_sides_of_a_wide_image_and_keeps_its_centre() -> None:
    red, green, blue = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    wide = bands(128, 32, [red, *[green] * 6, blue])  # the centred 32 px lie inside the green
    assert (square(wide, 16) == green).all()
    tall = wide.transpose(Image.Transpose.ROTATE_90)
    assert (square(tall, 16) == green).all()


def test_resize_images_is_square_one_image_at_a_time() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 32, 40, 3), dtype=np.uint8)
    resized = resize_images(images, 64)
    assert resized.shape == (5, 64, 64, 3) and resized.dtype == np.uint8
    for image, result in zip(images, resized, strict=True):
        assert np.array_equal(result, square(Image.fromarray(image), 64))
    cifar_like = images[:, :, :32]
    upscaled = Image.fromarray(cifar_like[0]).resize((64, 64), RESIZE_FILTER)
    assert np.array_equal(resize_images(cifar_like, 64)[0], np.asarray(upscaled))
