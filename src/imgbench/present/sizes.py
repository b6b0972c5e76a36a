"""Image sizes compared: what each store costs on disk per pixel as images grow (the tutorial's
two claims about large images are judged in `imgbench.claims`), and how each size's pool was
made."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pandas as pd
from matplotlib.figure import Figure

from imgbench.cells import (
    CODEC_COLUMN,
    FORMAT_COLUMN,
    SIZE_COLUMN,
    image_sizes,
    implementation_rank,
)
from imgbench.present import parts
from imgbench.present.data import FigureData
from imgbench.present.markdown import table

FACETED = False  # its figure compares the sizes, so it is drawn once, not once per size
CLAIM_IMAGES = 10_000  # the images the tutorial's large-image claims are checked at


def pixel_ratio(disk: pd.DataFrame) -> pd.DataFrame:
    """Allocated bytes ÷ the raw pixel bytes the store holds, per row."""
    pixels = disk["n_images"] * disk[SIZE_COLUMN] ** 2 * 3
    return disk.assign(pixel_ratio=disk["kib_allocated"] * 1024 / pixels)


def common_n(disk: pd.DataFrame, wanted: int = CLAIM_IMAGES) -> int | None:
    """`wanted` if every size measured it, else the largest N every size measured."""
    per_size = [set(rows["n_images"]) for _, rows in disk.groupby(SIZE_COLUMN)]
    shared = set.intersection(*per_size) if per_size else set()
    if not shared:
        return None
    return wanted if wanted in shared else int(max(shared))


def first_implementations(disk: pd.DataFrame) -> pd.DataFrame:
    """Each (format, codec)'s rows of its first implementation (the tutorial's, where it has
    one): every implementation of a format writes the same layout or nearly."""
    ranked = disk.assign(rank=[implementation_rank(one) for one in disk["implementation"]])
    first = ranked.sort_values("rank").drop_duplicates([FORMAT_COLUMN, CODEC_COLUMN])
    keys = first[[FORMAT_COLUMN, "implementation", CODEC_COLUMN]]
    return disk.merge(keys, on=[FORMAT_COLUMN, "implementation", CODEC_COLUMN])


def disk_by_size_figure(data: FigureData) -> Figure:
    """Allocated bytes ÷ raw pixel bytes against the image size, one line per container and
    codec, at the N every size measured: a store whose overhead grows with the image shows as a
    rising line, one that stays at its codec's ratio as a flat one."""
    title = "Disk use ÷ raw pixel bytes by image size (du -sk, lower is better)"
    n = common_n(data.disk)
    if n is None:
        return parts.note_figure(title, "No N was measured at every image size in this run")
    disk = pixel_ratio(first_implementations(data.disk[data.disk["n_images"] == n]))
    figure = parts.new_figure()
    axes = figure.add_subplot()
    for series in data.series(disk):
        rows = disk[
            (disk[FORMAT_COLUMN] == series.format)
            & (disk["implementation"] == series.implementation)
            & (disk[CODEC_COLUMN] == series.codec)
        ].sort_values(SIZE_COLUMN)
        axes.plot(
            rows[SIZE_COLUMN],
            rows["pixel_ratio"],
            marker="o",
            label=series.label(),
            **{k: v for k, v in data.line_style(series).items() if k != "marker"},
        )
    sizes = image_sizes(disk)
    axes.set_xscale("log", base=2)
    axes.set_xticks(sizes, [f"{size} px" for size in sizes])
    axes.minorticks_off()
    axes.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    axes.grid(True, alpha=0.3)
    axes.set_xlabel("Image side (square RGB images)")
    axes.set_ylabel("Allocated bytes ÷ raw pixel bytes")
    axes.set_title(f"{title}\nat N = {n:,}")
    parts.legend(figure, *axes.get_legend_handles_labels(), title="Store")
    return figure


DRAWERS: dict[str, Callable[[FigureData], Figure]] = {"disk_by_size": disk_by_size_figure}


POOL_TARGET_SECONDS = 60.0  # a folder's pools at two sizes, per 10,000 images, on 2 cores


def pools_section(records: Sequence[Mapping[str, object]], seconds: Sequence[float]) -> list[str]:
    """How each size's image pool was made and how long its job took, and for a folder of the
    user's images the target: its pools built within a minute per 10,000 images."""
    rows = [
        [
            f"{record['side']} px",
            str(record["source"]),
            f"{int(record['images']):,}",  # type: ignore[call-overload]
            str(len(record.get("skipped", []))),  # type: ignore[arg-type]
            f"{taken:.1f}",
        ]
        for record, taken in zip(records, seconds, strict=True)
    ]
    lines = [
        "## Image pools",
        "",
        "Each image size's pool, the images every store of that size holds (`pool.json`), and its "
        "job's time (Snakemake's benchmark file).",
        "",
        *table(["size", "made from", "images", "files skipped", "seconds"], rows),
    ]
    folders = [record for record in records if record["source"] == "folder"]
    if folders:
        images = max(int(record["images"]) for record in folders)  # type: ignore[call-overload]
        total = sum(
            taken for record, taken in zip(records, seconds, strict=True) if record in folders
        )
        per_10k = total * 10_000 / images
        verdict = "met" if per_10k <= POOL_TARGET_SECONDS else "not met"
        lines += [
            "",
            *table(
                ["target", "measured", "goal", "verdict"],
                [
                    [
                        f"a folder's pools at {len(folders)} size(s), per 10,000 images",
                        f"{per_10k:.1f} s ({total:.1f} s for {images:,} images)",
                        f"≤ {POOL_TARGET_SECONDS:g} s",
                        verdict,
                    ]
                ],
            ),
        ]
    return lines


def size_heading(side: int) -> str:
    return f"{side} × {side} px"


def demoted(lines: list[str]) -> list[str]:
    """Markdown lines with every heading one level deeper, to nest under a size's heading."""
    return [f"#{line}" if line.startswith("#") else line for line in lines]
