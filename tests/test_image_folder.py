"""A folder of the user's own images becomes a pool of squares: every colour mode and file format
arrives as the RGB a viewer shows, and every file that cannot be used is named with what to do."""

from __future__ import annotations

import json
import os
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgbench import image_folder
from imgbench.errors import ImageFolderError
from imgbench.image_folder import build_folder_pool, fingerprint, scan
from imgbench.pool import Pool
from imgbench.resizing import RESIZE_FILTER, resize_images, square, to_rgb8


def gray16(mode: str, values: list[int]) -> Image.Image:
    """A one-row image of 16-bit `values` in `mode` (I;16 native order, I;16B or I;16L)."""
    order = {"I;16": "=", "I;16B": ">", "I;16L": "<"}[mode]
    data = np.array([values], dtype=f"{order}u2")
    return Image.frombytes(mode, (len(values), 1), data.tobytes())


def palette(transparent: bool, width: int = 2) -> Image.Image:
    """A one-row palette image: colour 0 on its left half, colour 1 (transparent, if asked) on its
    right half."""
    image = Image.new("P", (width, 1))
    image.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    image.putdata([0] * (width // 2) + [1] * (width - width // 2))
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


# --- a folder of images ----------------------------------------------------------------------


def photo(width: int, height: int, seed: int) -> Image.Image:
    """A photo-like RGB image: smooth gradients plus mild noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    base = np.stack([x, y, (x + y) / 2], axis=-1) * rng.uniform(100, 250, 3)
    noise = rng.normal(0, 6, (height, width, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def save(image: Image.Image, path: Path, **options: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **options)
    return path


def tiny_folder(root: Path, per_class: dict[str, int]) -> Path:
    """Classes of tiny PNG images, cheap enough for hundreds."""
    for name, count in per_class.items():
        for index in range(count):
            save(Image.new("RGB", (6, 4), (index % 256, 40, 80)), root / name / f"{index:03}.png")
    return root


@dataclass
class Built:
    pool: Pool
    record: dict
    out: Path
    record_path: Path


def build(
    folder: Path,
    tmp_path: Path,
    side: int = 32,
    labels_csv: Path | None = None,
    skip: bool = False,
    workers: int = 1,
    name: str = "pool",
) -> Built:
    out, record = tmp_path / "out" / f"{name}.npz", tmp_path / "out" / f"{name}.json"
    build_folder_pool(
        folder, labels_csv, side, skip_unreadable=skip, workers=workers, out=out, record=record
    )
    return Built(Pool.load(out), json.loads(record.read_text()), out, record)


def refused(folder: Path, tmp_path: Path, labels_csv: Path | None = None, workers: int = 1) -> str:
    """The message of the error a build of `folder` fails with, having checked that it says
    what to do and that nothing was written."""
    out, record = tmp_path / "out" / "pool.npz", tmp_path / "out" / "pool.json"
    with pytest.raises(ImageFolderError) as raised:
        build_folder_pool(
            folder, labels_csv, 32, skip_unreadable=False, workers=workers, out=out, record=record
        )
    message = str(raised.value)
    assert "dataset.skip_unreadable: true" in message
    assert not out.exists() and not record.exists()
    return message


# name: (how it is saved, its colour on the screen, how far a lossy codec may move it)
FORMATS_AND_MODES = {
    "jpeg/rgb.jpg": (lambda: Image.new("RGB", (500, 375), (200, 40, 90)), {}, (200, 40, 90), 6),
    "jpeg/cmyk.jpeg": (lambda: Image.new("CMYK", (50, 37), (0, 255, 255, 0)), {}, (255, 0, 0), 6),
    "jpeg/upper case.JPG": (lambda: Image.new("L", (37, 50), 120), {}, (120, 120, 120), 6),
    "png/gray.png": (lambda: Image.new("L", (50, 37), 77), {}, (77, 77, 77), 0),
    "png/palette.png": (lambda: palette(False, 64).resize((64, 32)), {}, None, 0),
    "png/transparent palette.png": (
        lambda: palette(True, 64).resize((64, 32)),
        {"transparency": 1},
        None,
        0,
    ),
    "png/rgba.png": (lambda: Image.new("RGBA", (50, 37), (10, 20, 30, 0)), {}, (10, 20, 30), 0),
    "png/la.png": (lambda: Image.new("LA", (50, 37), (100, 50)), {}, (100, 100, 100), 0),
    "png/sixteen bit.png": (
        lambda: Image.fromarray(np.full((37, 50), 32768, np.uint16)),
        {},
        (128, 128, 128),
        0,
    ),
    "webp/rgb.webp": (lambda: Image.new("RGB", (50, 37), (30, 160, 220)), {}, (30, 160, 220), 6),
    "bmp/palette.bmp": (
        lambda: Image.new("RGB", (50, 37), (30, 160, 220)).convert(
            "P", palette=Image.Palette.ADAPTIVE
        ),
        {},
        (30, 160, 220),
        0,
    ),
    "tiff/rgb.tif": (lambda: Image.new("RGB", (50, 37), (5, 6, 7)), {}, (5, 6, 7), 0),
    "tiff/sixteen bit.tiff": (
        lambda: Image.fromarray(np.full((37, 50), 65535, np.uint16)),
        {},
        (255, 255, 255),
        0,
    ),
    "pnm/sixteen bit.pgm": (lambda: Image.new("I", (50, 37), 65535), {}, (255, 255, 255), 0),
    "pnm/rgb.ppm": (lambda: Image.new("RGB", (50, 37), (9, 8, 7)), {}, (9, 8, 7), 0),
}


@pytest.fixture(scope="module")
def formats_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("formats") / "images"
    for name, (make, options, _, _) in FORMATS_AND_MODES.items():
        save(make(), root / name, **options)
    save(photo(500, 375, seed=1), root / "jpeg" / "nested" / "deeper" / "photo.jpg", quality=90)
    (root / "README.txt").write_text("files beside the class folders are ignored\n")
    (root / "jpeg" / ".DS_Store").write_bytes(b"\0")  # hidden files and folders too
    save(Image.new("RGB", (8, 8)), root / ".thumbnails" / "x.png")
    return root


def test_every_format_and_mode_arrives_as_the_colour_a_viewer_shows(
    formats_folder: Path, tmp_path: Path
) -> None:
    built = build(formats_folder, tmp_path, side=32, workers=2)
    names = sorted([*FORMATS_AND_MODES, "jpeg/nested/deeper/photo.jpg"])
    classes = ["bmp", "jpeg", "png", "pnm", "tiff", "webp"]
    assert built.pool.images.shape == (len(names), 32, 32, 3)
    assert built.pool.images.dtype == np.uint8 and built.pool.labels.dtype == np.uint8
    assert built.pool.labels.tolist() == [classes.index(name.split("/")[0]) for name in names]
    for row, name in enumerate(names):
        if name in FORMATS_AND_MODES and FORMATS_AND_MODES[name][2] is not None:
            _, _, colour, tolerance = FORMATS_AND_MODES[name]
            error = np.abs(built.pool.images[row].astype(int) - colour).max()
            assert error <= tolerance, (name, built.pool.images[row, 0, 0])
    for name in "png/palette.png", "png/transparent palette.png":
        row = names.index(name)  # its left colour on the left, its right colour on the right
        assert built.pool.images[row, :, 0].tolist() == [[10, 20, 30]] * 32
        assert built.pool.images[row, :, 31].tolist() == [[200, 100, 50]] * 32
    assert built.record == {
        "source": "folder",
        "folder": str(formats_folder),
        "layout": "tree",
        "labels_csv": None,
        "side": 32,
        "resize_filter": "lanczos",
        "images": len(names),
        "classes": [
            {"label": label, "name": name, "images": sum(n.startswith(f"{name}/") for n in names)}
            for label, name in enumerate(classes)
        ],
        "skipped": [],
        "fingerprint": fingerprint(scan(formats_folder)),
    }


@pytest.mark.parametrize(("orientation", "top", "bottom"), [(6, "red", "blue"), (8, "blue", "red")])
def test_exif_orientation_is_applied(orientation: int, top: str, bottom: str, tmp_path) -> None:
    """Stored left half red, right half blue: a viewer turns orientation 6 a quarter clockwise
    (left becomes top) and orientation 8 a quarter anticlockwise (left becomes bottom)."""
    colours = {"red": (255, 0, 0), "blue": (0, 0, 255)}
    stored = bands(128, 96, [colours["red"], colours["blue"]])
    exif = stored.getexif()
    exif[0x0112] = orientation
    save(stored, tmp_path / "images" / "turned" / "photo.jpg", exif=exif, quality=95)
    image = build(tmp_path / "images", tmp_path).pool.images[0].astype(int)
    assert np.abs(image[:8] - colours[top]).max() <= 8
    assert np.abs(image[-8:] - colours[bottom]).max() <= 8


def test_labels_number_sorted_class_folders_and_images_keep_a_fixed_order(tmp_path: Path) -> None:
    root = tiny_folder(tmp_path / "images", {"zebra": 2, "Apple": 1, "mango": 3})
    save(Image.new("RGB", (6, 4)), root / "mango" / "a" / "000.png")
    listing = scan(root)
    assert listing.classes == ("Apple", "mango", "zebra")
    assert listing.entries == (
        ("Apple/000.png", 0),
        ("mango/000.png", 1),
        ("mango/001.png", 1),
        ("mango/002.png", 1),
        ("mango/a/000.png", 1),
        ("zebra/000.png", 2),
        ("zebra/001.png", 2),
    )
    assert build(root, tmp_path).pool.labels.tolist() == [0, 1, 1, 1, 1, 2, 2]


def test_a_seeded_limited_pool_mixes_the_classes_and_keeps_every_label(tmp_path: Path) -> None:
    root = tiny_folder(tmp_path / "images", {"a": 40, "b": 40, "c": 40})
    out = tmp_path / "out"

    def pool(limit: int, name: str) -> tuple[Pool, dict]:
        build_folder_pool(
            root, None, 8, skip_unreadable=False, workers=1, limit=limit, seed=0,
            out=out / f"{name}.npz", record=out / f"{name}.json",
        )  # fmt: skip
        return Pool.load(out / f"{name}.npz"), json.loads((out / f"{name}.json").read_text())

    few, few_record = pool(12, "few")
    assert len(few) == 12 and set(few.labels.tolist()) == {0, 1, 2}  # not only class a
    more, _ = pool(60, "more")
    assert np.array_equal(more.images[:12], few.images)  # the same order, cut later
    assert np.array_equal(more.labels[:12], few.labels)
    _, record = pool(2, "two")
    # Classes the first two images leave out keep their labels: pools of every size agree.
    assert [one["name"] for one in record["classes"]] == ["a", "b", "c"]
    assert sum(one["images"] for one in few_record["classes"]) == 12


def test_a_labels_csv_keeps_its_row_order_and_numbers_sorted_class_names(tmp_path: Path) -> None:
    root = tmp_path / "images"
    for index, name in enumerate(["b.png", "sub/a.png", "c.png"]):
        save(Image.new("RGB", (6, 4), (index * 100, 0, 0)), root / name)
    labels = root / "labels.csv"  # beside the images: not an image, so not "unlisted"
    labels.write_text("filename,label\nc.png,dog\n\nb.png,cat\r\nsub/./a.png,dog\n")
    listing = scan(root, labels)
    assert listing.classes == ("cat", "dog") and listing.problems == ()
    assert listing.entries == (("c.png", 1), ("b.png", 0), ("sub/a.png", 1))
    built = build(root, tmp_path, labels_csv=labels)
    assert built.pool.labels.tolist() == [1, 0, 1]
    assert built.pool.images[:, 0, 0, 0].tolist() == [200, 0, 100]
    assert built.record["layout"] == "csv" and built.record["labels_csv"] == str(labels)
    assert built.record["classes"] == [
        {"label": 0, "name": "cat", "images": 1},
        {"label": 1, "name": "dog", "images": 2},
    ]


def test_building_twice_or_with_more_workers_gives_identical_pools(tmp_path: Path) -> None:
    root = tmp_path / "images"
    for index in range(70):  # more than one chunk per worker
        save(photo(50, 37, seed=index), root / f"class {index % 3}" / f"{index}.jpg")
    once = build(root, tmp_path, side=48, name="once")
    again = build(root, tmp_path, side=48, workers=2, name="again")
    assert once.pool.images.tobytes() == again.pool.images.tobytes()
    assert once.pool.labels.tobytes() == again.pool.labels.tobytes()
    assert once.record_path.read_bytes() == again.record_path.read_bytes()


def test_the_fingerprint_follows_names_sizes_and_times_and_nothing_else(tmp_path: Path) -> None:
    root = tiny_folder(tmp_path / "images", {"a": 2, "b": 1})
    first = fingerprint(scan(root))
    Image.open(root / "a" / "000.png").load()  # reading changes nothing
    (root / "README").write_text("beside the class folders")
    assert fingerprint(scan(root)) == first
    moved = root.rename(tmp_path / "moved")
    assert fingerprint(scan(moved)) == first
    image = moved / "a" / "000.png"
    status = image.stat()
    os.utime(image, ns=(status.st_atime_ns, status.st_mtime_ns + 1))
    touched = fingerprint(scan(moved))
    assert touched != first
    image.rename(moved / "a" / "100.png")
    renamed = fingerprint(scan(moved))
    assert renamed != touched
    with (moved / "a" / "100.png").open("ab") as grown:
        grown.write(b"\0")
    os.utime(moved / "a" / "100.png", ns=(status.st_atime_ns, status.st_mtime_ns + 1))
    assert fingerprint(scan(moved)) not in (first, touched, renamed)


def test_the_fingerprint_of_a_csv_folder_follows_the_labels(tmp_path: Path) -> None:
    root = tiny_folder(tmp_path / "images", {"flat": 2})
    labels = tmp_path / "labels.csv"
    labels.write_text("filename,label\nflat/000.png,x\nflat/001.png,x\n")
    first = fingerprint(scan(root, labels))
    labels.write_text("filename,label\nflat/000.png,x\nflat/001.png,y\n")
    assert fingerprint(scan(root, labels)) != first


def test_scanning_is_quick_enough_for_the_workflow_to_run_it_when_parsed(tmp_path: Path) -> None:
    """3,000 files (creating more would slow the tests); 10,000 scan and fingerprint in ~70 ms."""
    root = tmp_path / "images"
    for name in range(3):
        (root / str(name)).mkdir(parents=True)
        for index in range(1000):  # empty: a scan decodes nothing
            os.close(os.open(f"{root}/{name}/{index}.jpg", os.O_CREAT | os.O_WRONLY))
    started = time.perf_counter()
    listing = scan(root)
    fingerprint(listing)
    assert len(listing.entries) == 3000
    assert time.perf_counter() - started < 0.5


def test_progress_is_printed_while_decoding(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(image_folder, "PROGRESS_SECONDS", 0.0)
    monkeypatch.setattr(image_folder, "CHUNK_IMAGES", 4)
    build(tiny_folder(tmp_path / "images", {"a": 10}), tmp_path)
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(
        r"decoded 4 / 10 images at 32 px \([\d,]+/s\), about [\d,]+ s left", lines[0]
    )
    assert re.fullmatch(r"decoded 10 images at 32 px in [\d.]+ s \([\d,]+/s\)", lines[2])


# --- files that cannot be used ---------------------------------------------------------------


def small() -> Image.Image:
    return Image.new("RGB", (6, 4), (1, 2, 3))


def truncated_jpeg(root: Path) -> None:
    path = save(photo(200, 150, seed=0), root / "dog" / "truncated.jpg")
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 3 // 4])


def outside_link(root: Path) -> None:
    (root / "cat" / "elsewhere.png").symlink_to(save(small(), root.parent / "outside.png"))


# what is added to a good folder: (how, what the error must say about it)
BAD = {
    "truncated JPEG": (truncated_jpeg, "dog/truncated.jpg: unreadable: image file is truncated"),
    "text named .jpg": (
        lambda root: (root / "cat" / "x.jpg").write_text("not a picture"),
        "cat/x.jpg: not an image Pillow can read",
    ),
    "no image extension": (
        lambda root: (root / "cat" / "notes.txt").write_text("a note"),
        "cat/notes.txt: not an image file (its extension is not one of .jpg .jpeg .png .ppm "
        ".bmp .pgm .tif .tiff .webp); remove it or move it out of the class folders",
    ),
    "link outside the folder": (
        outside_link,
        "cat/elsewhere.png: symbolic link to {outside}, outside the folder; copy what it points "
        "to into the folder, or remove the link",
    ),
    "broken link": (
        lambda root: (root / "cat" / "gone.png").symlink_to(root / "cat" / "nowhere.png"),
        "cat/gone.png: broken symbolic link; remove it or point it at an existing file",
    ),
    "link loop": (
        lambda root: (root / "dog" / "again").symlink_to(root / "dog"),
        "dog/again: symbolic link to a folder that holds it (a loop); remove it",
    ),
    "empty class folder": (
        lambda root: (root / "empty" / "nested").mkdir(parents=True),
        "empty/: class folder without image files; add images or remove it",
    ),
    "newline in a class name": (
        lambda root: save(small(), root / "bad\nname" / "0.png"),
        "'bad\\nname/': the folder name holds a newline, tab or other control character, so it "
        "cannot be a class label; rename it",
    ),
    "control character in a class name": (
        lambda root: save(small(), root / "bell\x07" / "0.png"),
        "'bell\\x07/': the folder name holds a newline",
    ),
    "class name padded with spaces": (
        lambda root: save(small(), root / " padded" / "0.png"),
        " padded/: the folder name begins or ends with whitespace",
    ),
    "class name not UTF-8": (
        lambda root: save(small(), root / os.fsdecode(b"caf\xe9") / "0.png"),
        "b'caf\\xe9/': the folder name is not valid UTF-8",
    ),
    "a class whose only image is bad": (
        lambda root: save(small(), root / "aaa" / "only.png").write_bytes(b"\x89PNG\r\n\x1a\n"),
        "aaa/only.png: not an image Pillow can read",
    ),
}


def good_folder(tmp_path: Path) -> Path:
    return tiny_folder(tmp_path / "images", {"cat": 2, "dog": 2})


@pytest.mark.parametrize("bad", BAD)
def test_a_file_that_cannot_be_used_stops_the_build_and_is_named(bad: str, tmp_path) -> None:
    root = good_folder(tmp_path)
    add, said = BAD[bad]
    add(root)
    message = refused(root, tmp_path)
    assert said.format(outside=tmp_path / "outside.png") in message
    assert message.startswith(f"{root}: 1 files cannot be used:\n")


def test_skipping_builds_without_the_bad_files_and_records_them(tmp_path: Path, capsys) -> None:
    root = good_folder(tmp_path)
    for add, _ in BAD.values():
        add(root)
    refused(root, tmp_path)  # all of them at once, in one message
    built = build(root, tmp_path, skip=True)
    assert built.pool.images.shape == (4, 32, 32, 3)
    assert built.pool.labels.tolist() == [0, 0, 1, 1]  # "aaa" lost its only image: not a class
    assert [entry["name"] for entry in built.record["classes"]] == ["cat", "dog"]
    skipped = {entry["path"]: entry["reason"] for entry in built.record["skipped"]}
    assert skipped.keys() == {
        "dog/truncated.jpg",
        "cat/x.jpg",
        "cat/notes.txt",
        "cat/elsewhere.png",
        "cat/gone.png",
        "dog/again",
        "empty/",
        "bad\nname/",
        "bell\x07/",
        " padded/",
        os.fsdecode(b"caf\xe9") + "/",
        "aaa/only.png",
    }
    assert skipped["cat/x.jpg"].startswith("not an image Pillow can read")
    printed = capsys.readouterr().out
    assert "skipped 12 files that cannot be used" in printed
    assert "classes left without images, so not in the pool: aaa" in printed


def test_decompression_bombs_are_refused_in_every_worker(tmp_path: Path, monkeypatch) -> None:
    """Pillow warns above MAX_IMAGE_PIXELS and fails above twice that: both are bombs. The limit
    set here reaches the forked workers (40 images: more than one chunk each)."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    root = tiny_folder(tmp_path / "images", {"cat": 20, "dog": 20})
    save(Image.new("RGB", (40, 30)), root / "dog" / "warned.png")  # 1,200 pixels
    save(Image.new("RGB", (60, 50)), root / "dog" / "failed.png")  # 3,000 pixels
    message = refused(root, tmp_path, workers=2)
    assert "dog/failed.png: decompression bomb: Image size (3000 pixels) exceeds limit" in message
    assert "dog/warned.png: decompression bomb: Image size (1200 pixels) exceeds limit" in message
    built = build(root, tmp_path, skip=True, workers=2)
    assert len(built.pool) == 40
    assert [entry["path"] for entry in built.record["skipped"]] == [
        "dog/failed.png",
        "dog/warned.png",
    ]


def test_an_error_lists_twenty_bad_files_and_counts_the_rest(tmp_path: Path) -> None:
    root = good_folder(tmp_path)
    for index in range(25):
        (root / "cat" / f"{index:02}.jpg").write_text("not a picture")
    message = refused(root, tmp_path)
    assert message.count("not an image Pillow can read") == 20
    assert "cat/19.jpg" in message and "cat/20.jpg" not in message
    assert "  and 5 more\n" in message


def test_more_classes_than_a_label_byte_holds_is_refused(tmp_path: Path) -> None:
    root = tiny_folder(tmp_path / "images", {f"class {index}": 1 for index in range(257)})
    out, record = tmp_path / "pool.npz", tmp_path / "pool.json"
    with pytest.raises(ImageFolderError, match="257 classes") as raised:
        build_folder_pool(root, None, 32, skip_unreadable=True, workers=1, out=out, record=record)
    assert "at most 256 classes fit. Merge classes" in str(raised.value)
    assert not out.exists() and not record.exists()


def test_no_images_at_all_says_what_was_looked_for_and_where(tmp_path: Path) -> None:
    root = tmp_path / "images"
    (root / "cat").mkdir(parents=True)
    (root / "cat" / "notes.txt").write_text("a note")
    with pytest.raises(ImageFolderError) as raised:
        scan(root)
    message = str(raised.value)
    assert message.startswith(f"{root}: no image files (.jpg .jpeg .png")
    assert f"{root}/<class>/.../<image>" in message
    save(small(), root / "loose.png")
    with pytest.raises(ImageFolderError, match="1 image files lie directly in the folder: move"):
        scan(root)
    (root / "labels.csv").write_text("filename,label\n")
    (root / "loose.png").unlink()
    with pytest.raises(ImageFolderError, match="no image files .* which .*labels.csv should"):
        scan(root, root / "labels.csv")
    with pytest.raises(ImageFolderError, match="no such folder"):
        scan(tmp_path / "nowhere")


def test_a_labels_csv_names_every_row_and_file_that_cannot_be_used(tmp_path: Path) -> None:
    root = tmp_path / "images"
    for name in "a.png", "b.png", "c.png", "sub/d.png":
        save(small(), root / name)
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "filename,label\n"
        "a.png,cat\n"
        "missing.png,cat\n"
        "b.png, dog\n"
        "a.png,dog\n"
        "../outside.png,cat\n"
        "notes.txt,cat\n"
        "only one field\n"
        "sub/d.png,dog\n"
    )
    message = refused(root, tmp_path, labels_csv=labels)
    for said in [
        "missing.png: listed in labels.csv (line 3) but missing; remove the row or add the file",
        "b.png: labels.csv line 4: the label ' dog' begins or ends with whitespace; fix the label",
        "a.png: labels.csv line 5: listed again (first on line 2); keep one row",
        "../outside.png: labels.csv line 6: outside the folder; fix its path",
        "notes.txt: labels.csv line 7: not an image file",
        "labels.csv line 8: expected filename,label, found ['only one field']; fix or remove",
        "c.png: image file not listed in labels.csv; add a row for it or move it out of the folder",
    ]:
        assert said in message
    built = build(root, tmp_path, labels_csv=labels, skip=True)
    assert built.record["classes"] == [
        {"label": 0, "name": "cat", "images": 1},
        {"label": 1, "name": "dog", "images": 1},
    ]
    assert len(built.record["skipped"]) == 7


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"name,class\na.png,cat\n", "the first row must be the header filename,label, found"),
        (b"filename,label\na.png,caf\xe9\n", "not UTF-8 text (invalid continuation byte"),
    ],
)
def test_a_labels_csv_that_cannot_be_read_is_refused(content: bytes, said: str, tmp_path) -> None:
    save(small(), tmp_path / "images" / "a.png")
    labels = tmp_path / "labels.csv"
    labels.write_bytes(content)
    with pytest.raises(ImageFolderError, match=re.escape(said)):
        scan(tmp_path / "images", labels)
    with pytest.raises(ImageFolderError, match="no such labels CSV; create it"):
        scan(tmp_path / "images", tmp_path / "nowhere.csv")
