"""Where each size's image pool comes from: one job per configured image size makes it, by the
recipe the workflow chose for the dataset and size.

- `archive`: the CIFAR-10 (or synthetic) archive's training batches unpickled, at 32 px.
- `rendered`: the synthetic source drawn natively at the size, so its PNG and JPEG sizes are
  those of photo-like images of that size rather than of upsampled thumbnails.
- `resized`: CIFAR-10's 32 px pool resized with the named filter (`imgbench.resizing`).
- `folder`: the user's folder of images decoded, cropped and resized (`imgbench.image_folder`).

Each pool is written with a JSON record of how it was made, which the provenance record keeps.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from imgbench import image_folder, resizing
from imgbench.atomic_files import write_json
from imgbench.batches import build_pool
from imgbench.pool import Pool
from imgbench.synthetic import synthetic_images


def pool_images(
    source: object, side: int, available: int, largest_cutoff: int, archive_side: int
) -> int:
    """The images a pool holds: all `available` training images at the archive's own
    `archive_side` (the tutorial's pool), else no more than the size's largest cutoff needs, so
    large images of a big dataset do not fill the memory of every job."""
    if side == archive_side and source != "folder":
        return available
    return min(available, largest_cutoff)


def recipe(
    dataset: Mapping[str, object],
    side: int,
    images: int,
    folder_fingerprint: str | None,
    archive_side: int,
) -> dict[str, object]:
    """How `dataset`'s pool of `side` px images, `images` of them, is made (the archive's own
    images are `archive_side` px): everything its job needs, so that a change to any of it (a
    folder's fingerprint among them) remakes the pool."""
    source = dataset["source"]
    if source == "folder":
        return {
            "source": "folder",
            "folder": str(Path(str(dataset["folder"])).resolve()),
            "labels_csv": dataset.get("labels_csv"),
            "skip_unreadable": dataset["skip_unreadable"],
            "seed": dataset["seed"],
            "images": images,
            "fingerprint": folder_fingerprint,
        }
    if side == archive_side:
        return {"source": "archive"}
    if source == "synthetic":
        return {"source": "rendered", "images": images, "seed": dataset["seed"]}
    return {"source": "resized", "images": images}


def build_sized_pool(
    recipe: Mapping[str, object],
    side: int,
    inputs: Mapping[str, Path],
    out: Path,
    record: Path,
    workers: int,
) -> None:
    """The pool of `side` px images `recipe` describes, from `inputs`, with its record."""
    source = recipe["source"]
    if source == "archive":
        build_pool(inputs["batches"], out)
        write_json(record, {"source": "archive", "side": side, "images": len(Pool.load(out))})
    elif source == "rendered":
        render_pool(out, record, int(recipe["images"]), int(recipe["seed"]), side)  # type: ignore[call-overload]
    elif source == "resized":
        resize_pool(inputs["source_pool"], out, record, side, int(recipe["images"]))  # type: ignore[call-overload]
    elif source == "folder":
        labels_csv = recipe["labels_csv"]
        image_folder.build_folder_pool(
            Path(str(recipe["folder"])),
            Path(str(labels_csv)) if labels_csv else None,
            side,
            skip_unreadable=bool(recipe["skip_unreadable"]),
            workers=workers,
            limit=int(recipe["images"]),  # type: ignore[call-overload]
            seed=int(recipe["seed"]),  # type: ignore[call-overload]
            out=out,
            record=record,
        )
    else:
        raise ValueError(f"unknown pool recipe {source!r}")


def resize_pool(source: Path, out: Path, record: Path, side: int, count: int) -> None:
    """The first `count` images of the 32 px pool `source`, resized to `side` px."""
    images, labels = Pool.load(source).first(count)
    Pool(resizing.resize_images(images, side), labels).save(out)
    write_json(
        record,
        {
            "source": "resized",
            "side": side,
            "images": count,
            "from_side": images.shape[1],
            "filter": resizing.RESIZE_FILTER_NAME,
        },
    )
    print(f"image pool {out}: {count} images resized to {side} px ({resizing.RESIZE_FILTER_NAME})")


def render_pool(out: Path, record: Path, count: int, seed: int, side: int) -> None:
    """The offline dataset's pool at a size other than the archive's 32 px: `count` synthetic
    images rendered at `side` px."""
    images, labels = synthetic_images(count, seed, side)
    Pool(images, labels).save(out)
    write_json(record, {"source": "rendered", "side": side, "images": count, "seed": seed})
    print(f"image pool {out}: {count} synthetic images rendered at {side} px, seed {seed}")
