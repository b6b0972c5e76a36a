"""The figures of imgbench.present: written, readable, labelled, reproducible, atomic, and written
as notes when a run did not measure what they show; every figure declared once and drawn by its
family."""

import importlib
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

from imgbench import stores
from imgbench.cells import FLOOR_FORMAT, Presentation, Series
from imgbench.present import parts, registry
from imgbench.present.data import FigureData
from imgbench.present.drawing import draw, figure, write_figure
from imgbench.present.registry import FILE_TYPES

# The figures drawn from the summary and disk tables; the loader's have tests of their own below.
FIGURES = tuple(
    spec.name
    for spec in registry.FIGURES
    if spec.tables == registry.MEASUREMENT_TABLES and not spec.across_sizes
)
# As the workflow passes them: every format's, and the decode floors'.
PRESENTATIONS = {name: stores.presentation(name) for name in (*stores.formats(), FLOOR_FORMAT)}


def figure_paths(outdir: Path) -> list[Path]:
    return [outdir / f"{name}.{file_type}" for name in FIGURES for file_type in FILE_TYPES]


def plot_figure(name: str, summary: pd.DataFrame, disk: pd.DataFrame, outdir: Path) -> list[Path]:
    """One figure as its job draws it (the tables checked first)."""
    data = FigureData.of(summary, disk, PRESENTATIONS)
    paths = [outdir / f"{name}.{file_type}" for file_type in FILE_TYPES]
    write_figure(name, registry.BY_NAME[name].family, data, paths)
    return paths


def plot_all(summary: pd.DataFrame, disk: pd.DataFrame, outdir: Path) -> list[Path]:
    """Every figure, after checking the tables once: bad input writes nothing."""
    data = FigureData.of(summary, disk, PRESENTATIONS)
    for spec in map(registry.BY_NAME.get, FIGURES):
        paths = [outdir / f"{spec.name}.{file_type}" for file_type in FILE_TYPES]
        write_figure(spec.name, spec.family, data, paths)
    return figure_paths(outdir)


CUTOFFS = (10, 100, 1000)
# Plausible per-image seconds (buffered write, reference read) and KiB per image, per series
# (format, implementation, codec). LMDB fast also holds PNG, which only the codec figures show.
PER_IMAGE = {
    ("files", "tutorial", "png"): (4e-4, 2e-4, 4.1),
    ("files", "fast", "png"): (1e-4, 5e-5, 4.1),
    ("lmdb", "tutorial", "raw"): (5e-5, 3e-5, 3.2),
    ("lmdb", "fast", "raw"): (1.5e-5, 4e-6, 3.1),
    ("lmdb", "fast", "png"): (6e-5, 4.5e-5, 2.3),
    ("hdf5", "tutorial", "raw"): (3e-5, 2e-5, 3.0),
    ("hdf5", "fast", "raw"): (1e-5, 5e-6, 3.0),
    ("raw", "baseline", "raw"): (2e-6, 3e-6, 3.0),
}
# Per-image seconds of the reference read of each decode floor: reads only, no store on disk.
FLOORS = {("floor", "baseline", "png"): 4e-5}
FAST_ONLY = {key: value for key, value in PER_IMAGE.items() if key[1] == "fast"}
ALL_READS = {
    "cache": ("warm", "cold"),
    "order": ("sequential", "random", "batched"),
    "readers": (1, 2),
}
# Factor applied to the reference read time by each variation.
SLOWDOWN = {"cold": 3.0, "random": 1.5, "batched": 1.2, 2: 0.6}
# The tutorial's figures: each format in its own codec, the raw baseline, no decode floor.
SERIES_LABELS = (
    "files+png tutorial",
    "files+png fast",
    "LMDB+raw tutorial",
    "LMDB+raw fast",
    "HDF5+raw tutorial",
    "HDF5+raw fast",
    "raw",
)
NOT_IN_TUTORIAL_FIGURES = ("LMDB+png fast", "png decode floor")
TIME_FIGURES = [name for name in FIGURES if name.startswith(("store_time", "read_time", "read_w"))]
TITLES = {
    "store_time_linear": "Storage time",
    "store_time_log": "Storage time (log scale)",
    "read_time_linear": "Read time",
    "read_time_log": "Read time (log scale)",
    "read_write_linear": "Read and write time",
    "read_write_log": "Read and write time (log scale)",
}


def median(per_image: float, n: int) -> float:
    return per_image * n + 2e-3


def summary_row(series, n, operation, phase, cache, order, readers, seconds) -> dict:
    return {
        "method": series[0],
        "implementation": series[1],
        "codec": series[2],
        "image_size": 32,
        "n_images": n,
        "operation": operation,
        "phase": phase,
        "cache": cache,
        "order": order,
        "readers": readers,
        "writers": 1,
        "samples": 3,
        "images": n,
        "seconds_median": seconds,
        "seconds_ci_low": seconds * 0.95,
        "seconds_ci_high": seconds * 1.1,
        "ci_coverage": 0.75,
        "ci_half_width": 0.1,
        "seconds_min": seconds * 0.9,
        "seconds_max": seconds * 1.2,
        "seconds_p90": seconds * 1.15,
        "images_per_second": n / seconds,
        "resident_fraction_max": 0.0 if cache == "cold" else np.nan,
        "batch_p50_seconds": seconds / 100 if order == "batched" else np.nan,
        "batch_p99_seconds": seconds / 50 if order == "batched" else np.nan,
    }


def make_summary(
    series=PER_IMAGE, reads=ALL_READS, sync: bool = True, floors=FLOORS
) -> pd.DataFrame:
    """A summary table as the workflow writes it, single-image rows included (not plotted), and
    the reference reads of the decode floors."""
    rows = [
        summary_row(key, n, "read_many", "read", "warm", "sequential", 1, median(read, n))
        for key, read in floors.items()
        for n in CUTOFFS
    ]
    for key, (write, read, _) in series.items():
        for n in CUTOFFS:
            rows.append(
                summary_row(key, n, "write_many", "write", "n/a", "n/a", 1, median(write, n))
            )
            if sync:
                seconds = 0.3 * median(write, n) + 1e-3
                rows.append(summary_row(key, n, "write_many", "sync", "n/a", "n/a", 1, seconds))
            cells = [("warm", "sequential", 1)]
            cells += [(cache, "sequential", 1) for cache in reads["cache"] if cache != "warm"]
            cells += [("warm", order, 1) for order in reads["order"] if order != "sequential"]
            cells += [("warm", "sequential", count) for count in reads["readers"] if count != 1]
            for cache, order, readers in cells:
                factor = np.prod([SLOWDOWN.get(value, 1.0) for value in (cache, order, readers)])
                seconds = median(read, n) * factor
                rows.append(
                    summary_row(key, n, "read_many", "read", cache, order, readers, seconds)
                )
        rows.append(summary_row(key, 1, "write_single", "write", "n/a", "n/a", 1, 1e-3))
        rows.append(summary_row(key, 1, "read_single", "read", "warm", "random", 1, 1e-3))
    return pd.DataFrame(rows)


def make_disk(series=PER_IMAGE) -> pd.DataFrame:
    """A disk table: one store per series and cutoff, sizes growing with N."""
    return pd.DataFrame(
        [
            {
                "method": method,
                "implementation": implementation,
                "codec": codec,
                "image_size": 32,
                "n_images": n,
                "kib_allocated": int(kib * n) + 4,
                "kib_apparent": int(kib * n * 0.9) + 1,
            }
            for (method, implementation, codec), (_, _, kib) in series.items()
            for n in CUTOFFS
        ]
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """Render the full run once; most tests only inspect the files."""
    outdir = tmp_path_factory.mktemp("plots") / "nested" / "figures"
    return outdir, plot_all(make_summary(), make_disk(), outdir)


@pytest.fixture(scope="module")
def sparse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Render a run with only `fast` implementations, no raw, no decode floor, no read
    variations, no sync."""
    outdir = tmp_path_factory.mktemp("sparse")
    reads = {"cache": ("warm",), "order": ("sequential",), "readers": (1,)}
    fast = {key: value for key, value in FAST_ONLY.items() if key[0] != "raw"}
    plot_all(make_summary(fast, reads, sync=False, floors={}), make_disk(fast), outdir)
    return outdir


def svg_text(outdir: Path, name: str) -> str:
    return (outdir / f"{name}.svg").read_text(encoding="utf-8")


def ratio_label(value: float) -> str:
    return f"{value:.3g}×"


def test_every_figure_is_declared_once_and_drawn_by_its_family() -> None:
    assert len(FIGURES) == len(set(FIGURES)) == 17 and FILE_TYPES == ("png", "svg")
    assert len(registry.NAMES) == len(set(registry.NAMES)) == 23
    drawn = {}
    for family in registry.FAMILIES:
        drawers = importlib.import_module(f"imgbench.present.{family}").DRAWERS
        drawn |= dict.fromkeys(drawers, family)
    assert drawn == {spec.name: spec.family for spec in registry.FIGURES}
    assert all(spec.caption and spec.category for spec in registry.FIGURES)


def test_the_registry_imports_nothing_heavy() -> None:
    """The workflow reads it when it is parsed."""
    code = "import sys, imgbench.present.registry; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_plot_all_writes_all_files_and_nothing_else(rendered: tuple[Path, list[Path]]) -> None:
    outdir, paths = rendered
    assert paths == figure_paths(outdir)
    for path in paths:
        assert path.is_file() and path.stat().st_size > 1000, path
    # No temporary files are left behind by the atomic writes.
    assert sorted(outdir.iterdir()) == sorted(paths)


def test_pngs_open_with_sensible_size(rendered: tuple[Path, list[Path]]) -> None:
    outdir, _ = rendered
    for name in FIGURES:
        with Image.open(outdir / f"{name}.png") as image:
            image.verify()
        with Image.open(outdir / f"{name}.png") as image:
            width, height = image.size
        assert 900 <= width <= 2000 and 500 <= height <= 1200, (name, image.size)
        assert width > height, name


def test_time_figures_have_labels_titles_and_every_series(
    rendered: tuple[Path, list[Path]],
) -> None:
    outdir, _ = rendered
    for name in TIME_FIGURES:
        text = svg_text(outdir, name)
        assert "Number of images" in text and "Time (s)" in text, name
        assert f"<!-- {TITLES[name]} -->" in text, name
        for label in SERIES_LABELS:
            assert f"<!-- {label} -->" in text, (name, label)
        for label in NOT_IN_TUTORIAL_FIGURES:  # each format in its own codec; no floor
            assert f"<!-- {label}" not in text, (name, label)
        assert "No " not in text, name  # no "No ... in this run" note
    for name in ("read_write_linear", "read_write_log"):
        text = svg_text(outdir, name)
        assert "<!-- Write (buffered) -->" in text, name
        assert "<!-- Read (warm cache, sequential, 1 reader) -->" in text, name


def test_series_keep_fixed_colours_and_implementation_styles(
    rendered: tuple[Path, list[Path]],
) -> None:
    text = svg_text(rendered[0], "read_time_log")
    for colour in ("#1f77b4", "#ff7f0e", "#2ca02c", "#000000"):  # files, LMDB, HDF5, raw
        assert f"stroke: {colour}" in text, colour
    # Solid fast, dashed tutorial, dotted baseline lines.
    assert "stroke-dasharray" in text


def test_disk_figure_has_series_and_cutoff_legend(rendered: tuple[Path, list[Path]]) -> None:
    text = svg_text(rendered[0], "disk_usage_stacked")
    assert "Disk use (MiB, du -sk)" in text
    assert "Disk space used by each method" in text
    for label in ("N = 10", "N = 100", "N = 1,000", "raw"):
        assert f"<!-- {label} -->" in text, label
    png_tutorial = sum(int(4.1 * n) + 4 for n in CUTOFFS) / 1024
    assert f"<!-- {png_tutorial:,.1f} MiB -->" in text
    # Bar figures name each series on two lines, which the SVG keeps as two texts.
    for word in ("files+png", "LMDB+raw", "HDF5+raw", "tutorial", "fast"):
        assert f"<!-- {word} -->" in text, word
    lmdb_png = sum(int(2.3 * n) + 4 for n in CUTOFFS) / 1024  # LMDB+png: not in this figure
    assert f"<!-- {lmdb_png:,.1f} MiB -->" not in text and "<!-- LMDB+png -->" not in text


def test_throughput_has_a_panel_per_method_and_legend(rendered: tuple[Path, list[Path]]) -> None:
    text = svg_text(rendered[0], "throughput")
    assert "Throughput (images per second, higher is better)" in text
    assert "Number of images" in text and "Read images/s" in text and "Write images/s" in text
    for method in ("files", "LMDB", "HDF5"):
        assert f"<!-- {method} · read -->" in text and f"<!-- {method} · write -->" in text
    assert "<!-- Implementation · codec -->" in text
    for label in ("tutorial", "fast", "png", "raw", "raw (reference)"):
        assert f"<!-- {label} -->" in text, label
    assert "floor" not in text  # the decode floors get no panel


def test_speedup_bars_are_labelled_with_tutorial_over_fast(
    rendered: tuple[Path, list[Path]],
) -> None:
    text = svg_text(rendered[0], "speedup_fast_vs_tutorial")
    assert "at N = 1,000" in text and "Their time ÷ fast time" in text
    assert "<!-- vs tutorial -->" in text and "vs documented" not in text
    for method, codec, label in (
        ("files", "png", "files+png"),
        ("lmdb", "raw", "LMDB+raw"),
        ("hdf5", "raw", "HDF5+raw"),
    ):
        assert f"<!-- {label} -->" in text
        for kind, index in (("read", 1), ("write", 0)):
            tutorial = median(PER_IMAGE[method, "tutorial", codec][index], 1000)
            fast = median(PER_IMAGE[method, "fast", codec][index], 1000)
            assert f"<!-- {ratio_label(tutorial / fast)} -->" in text, (method, kind)
    assert "LMDB+png" not in text  # no tutorial store of LMDB holds PNG
    assert "<!-- 1× (same time) -->" in text


def test_speedup_compares_fast_with_the_documented_code_without_a_tutorial(
    tmp_path: Path,
) -> None:
    series = {
        ("sqlite", "documented", "png"): (3e-4, 1e-4, 4.0),
        ("sqlite", "fast", "png"): (1e-4, 5e-5, 4.0),
        ("lmdb", "fast", "raw"): PER_IMAGE["lmdb", "fast", "raw"],
    }
    plot_figure("speedup_fast_vs_tutorial", make_summary(series), make_disk(series), tmp_path)
    text = svg_text(tmp_path, "speedup_fast_vs_tutorial")
    assert "<!-- vs documented -->" in text and "vs tutorial" not in text
    read = median(1e-4, 1000) / median(5e-5, 1000)
    assert f"<!-- {ratio_label(read)} -->" in text and "LMDB" not in text


def test_ratio_to_floor_bars_are_labelled_with_read_over_its_codecs_floor(
    rendered: tuple[Path, list[Path]],
) -> None:
    text = svg_text(rendered[0], "ratio_to_floor")
    assert "Read time ÷ floor read time" in text and "at N = 1,000" in text
    assert "floors: raw: 5 ms, png decode: 42 ms" in text
    floors = {
        "raw": median(PER_IMAGE["raw", "baseline", "raw"][1], 1000),
        "png": median(FLOORS["floor", "baseline", "png"], 1000),
    }
    for key, (_, read, _) in PER_IMAGE.items():
        if key[0] != "raw":
            ratio = median(read, 1000) / floors[key[2]]
            assert f"<!-- {ratio_label(ratio)} -->" in text, key
    assert "<!-- LMDB+png -->" in text  # every codec of every store, against its own floor
    assert "<!-- raw -->" not in text and "png decode floor" not in text  # no bar for a floor


def test_read_heatmap_has_a_cell_per_fast_container_and_codec(
    rendered: tuple[Path, list[Path]],
) -> None:
    text = svg_text(rendered[0], "read_heatmap")
    assert "Read throughput by container and codec" in text and "at N = 1,000" in text
    for row in ("files fast", "LMDB fast", "HDF5 fast", "floor (raw baseline, decode)"):
        assert f"<!-- {row} -->" in text, row
    assert "<!-- raw -->" in text and "<!-- png -->" in text
    rates = {
        key: 1000 / median(read, 1000)
        for key, (_, read, _) in PER_IMAGE.items()
        if key[1] != "tutorial"
    } | {key: 1000 / median(read, 1000) for key, read in FLOORS.items()}
    for key, rate in rates.items():
        assert f"<!-- {rate:,.0f} -->" in text, key
    tutorial = 1000 / median(PER_IMAGE["lmdb", "tutorial", "raw"][1], 1000)
    assert f"<!-- {tutorial:,.0f} -->" not in text
    assert text.count("<!-- — -->") == 2  # files+raw and HDF5+png were not measured


def test_disk_per_codec_groups_containers_by_codec(rendered: tuple[Path, list[Path]]) -> None:
    text = svg_text(rendered[0], "disk_per_codec")
    assert "Disk use per image by codec and container" in text and "at N = 1,000" in text
    assert "Bytes per image (allocated)" in text and "<!-- Container -->" in text
    for label in ("files", "LMDB", "HDF5", "raw baseline", "raw", "png"):
        assert f"<!-- {label} -->" in text, label
    for key in (("files", "tutorial", "png"), ("lmdb", "fast", "png"), ("hdf5", "tutorial", "raw")):
        per_image = (int(PER_IMAGE[key][2] * 1000) + 4) * 1024 / 1000
        assert f"<!-- {per_image:,.0f} -->" in text, key


@pytest.mark.parametrize(
    ("name", "reference", "variation", "ratio"),
    [
        ("cache_warm_cold", "warm cache (reference)", "cold cache", 1 / 3),
        (
            "order_sequential_random",
            "in order (reference)",
            "random order, one image per call",
            1 / 1.5,
        ),
        ("order_sequential_batched", "in order (reference)", "random order in batches", 1 / 1.2),
        ("readers_1_2", "1 reader (reference)", "2 readers", 1 / 0.6),
    ],
)
def test_variation_figures_compare_with_the_reference_cell(
    rendered: tuple[Path, list[Path]], name: str, reference: str, variation: str, ratio: float
) -> None:
    text = svg_text(rendered[0], name)
    assert "Images per second (higher is better)" in text and "at N = 1,000" in text
    assert f"<!-- {reference} -->" in text and f"<!-- {variation} -->" in text
    assert f"<!-- {ratio_label(ratio)} -->" in text
    assert "<!-- raw -->" in text and "<!-- tutorial -->" in text and "<!-- fast -->" in text


def test_durability_stacks_write_and_sync(rendered: tuple[Path, list[Path]]) -> None:
    text = svg_text(rendered[0], "durability")
    assert "Time (s)" in text and "at N = 1,000" in text
    assert "<!-- buffered write -->" in text and "<!-- sync (syncfs) -->" in text
    write = median(PER_IMAGE["files", "tutorial", "png"][0], 1000)
    sync = 0.3 * write + 1e-3
    assert f"<!-- {(write + sync) * 1000:.3g} ms -->" in text
    assert f"<!-- sync {sync / (write + sync):.0%} -->" in text


def test_missing_data_still_writes_every_file_as_a_note(sparse: Path) -> None:
    assert sorted(sparse.iterdir()) == sorted(figure_paths(sparse))
    notes = {
        "speedup_fast_vs_tutorial": (
            "No store with both fast and tutorial or documented timings in this run"
        ),
        "ratio_to_floor": "No raw baseline or decode floor reads in this run",
        "cache_warm_cold": "No cold-cache reads in this run",
        "order_sequential_random": "No random-order reads in this run",
        "order_sequential_batched": "No batched random reads in this run",
        "readers_1_2": "No reads with 2 or more readers in this run",
        "durability": "No sync (syncfs) timings in this run",
    }
    for name in FIGURES:
        with Image.open(sparse / f"{name}.png") as image:
            image.verify()
        text = svg_text(sparse, name)
        if name in notes:
            assert f"<!-- {notes[name]} -->" in text, name
        elif registry.BY_NAME[name].category == registry.CODECS:  # codecs, not series
            assert "in this run" not in text and "tutorial" not in text, name
            assert "floor" not in text and "raw baseline" not in text, name
        else:  # figures with data keep plotting what there is, with no empty series
            assert "in this run" not in text, name
            assert "fast" in text and "tutorial" not in text, name
            assert "<!-- raw (reference)" not in text and "floor" not in text, name
            if name != "throughput":  # whose legend names the codecs, raw among them
                assert "<!-- raw -->" not in text, name


def test_same_input_gives_byte_identical_files(
    rendered: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    outdir, _ = rendered
    for name in ("cache_warm_cold", "speedup_fast_vs_tutorial"):
        for path in plot_figure(name, make_summary(), make_disk(), tmp_path):
            assert path.read_bytes() == (outdir / path.name).read_bytes(), path.name


def test_row_order_does_not_change_output(
    rendered: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    outdir, _ = rendered
    summary = make_summary().sample(frac=1.0, random_state=3)
    disk = make_disk().sample(frac=1.0, random_state=4)
    for name in ("read_time_linear", "disk_usage_stacked", "speedup_fast_vs_tutorial"):
        plot_figure(name, summary, disk, tmp_path)
        assert svg_text(tmp_path, name) == svg_text(outdir, name), name


def test_unknown_method_uses_its_name_and_known_colours_stay_fixed(tmp_path: Path) -> None:
    series = {
        ("lmdb", "fast", "raw"): PER_IMAGE["lmdb", "fast", "raw"],
        ("cassandra", "fast", "raw"): (2e-5, 1e-5, 3.1),
        ("cassandra", "tutorial", "raw"): (4e-5, 2e-5, 3.1),
    }
    for name in ("read_write_linear", "disk_usage_stacked"):
        plot_figure(name, make_summary(series), make_disk(series), tmp_path)
    text = svg_text(tmp_path, "read_write_linear")
    assert "cassandra+raw fast" in text and "cassandra+raw tutorial" in text
    assert "LMDB+raw fast" in text
    assert "#ff7f0e" in text  # LMDB keeps tab:orange even without files present
    assert "#1f77b4" not in text  # files' blue is not handed to the unknown method
    assert "cassandra" in svg_text(tmp_path, "disk_usage_stacked")


def test_a_formats_presentation_sets_its_label_colour_marker_and_place(tmp_path: Path) -> None:
    series = {
        ("lmdb", "fast", "raw"): PER_IMAGE["lmdb", "fast", "raw"],
        ("zarr", "fast", "raw"): (2e-5, 1e-5, 3.1),
    }
    zarr = Presentation(label="Zarr v3", colour="#123456", line_marker="*", rank=5)
    data = FigureData.of(make_summary(series), make_disk(series), {**PRESENTATIONS, "zarr": zarr})
    write_figure("read_time_log", "tutorial", data, [tmp_path / "read_time_log.svg"])
    text = svg_text(tmp_path, "read_time_log")
    assert "<!-- Zarr v3+raw fast -->" in text and "stroke: #123456" in text
    assert text.index("<!-- Zarr v3+raw fast -->") < text.index("<!-- LMDB+raw fast -->")
    zarr_fast = next(one for one in data.series(data.summary) if one.format == "zarr")
    assert data.line_style(zarr_fast)["marker"] == "*"


def test_readers_figure_uses_the_smallest_reader_count_above_one(tmp_path: Path) -> None:
    summary = make_summary(FAST_ONLY, {**ALL_READS, "readers": (1, 4, 8)})
    plot_figure("readers_1_2", summary, make_disk(FAST_ONLY), tmp_path)
    text = svg_text(tmp_path, "readers_1_2")
    assert "<!-- 1 reader (reference) -->" in text and "<!-- 4 readers -->" in text
    assert "8 readers" not in text


def test_a_figure_its_family_does_not_draw_is_refused() -> None:
    data = FigureData.of(make_summary(), make_disk(), PRESENTATIONS)
    with pytest.raises(ValueError, match="family 'variations' draws no figure 'pie'"):
        figure("pie", "variations", data)


@pytest.mark.parametrize(
    ("summary", "disk", "message"),
    [
        (make_summary().iloc[0:0], make_disk(), "summary table is empty"),
        (make_summary(), make_disk().iloc[0:0], "disk table is empty"),
        (
            make_summary().drop(columns=["implementation", "phase"]),
            make_disk(),
            "summary table lacks column(s): implementation, phase",
        ),
        (
            make_summary(),
            make_disk().drop(columns="kib_allocated"),
            "disk table lacks column(s): kib_allocated",
        ),
        (
            make_summary().astype({"seconds_median": object}).replace({0.006: "slow"}),
            make_disk(),
            "summary table column 'seconds_median' has non-numeric values",
        ),
        (
            make_summary().drop(columns="codec"),
            make_disk(),
            "summary table lacks column(s): codec",
        ),
        (
            make_summary(),
            make_disk().drop(columns="codec"),
            "disk table lacks column(s): codec",
        ),
        (
            pd.concat([make_summary(), make_summary().iloc[[0]]]),
            make_disk(),
            "summary table repeats the row for {'method': 'floor', 'implementation': 'baseline', "
            "'codec': 'png'",
        ),
        (make_summary(), pd.concat([make_disk()] * 2), "disk table repeats the row"),
    ],
)
def test_bad_tables_raise_before_writing_anything(
    summary: pd.DataFrame, disk: pd.DataFrame, message: str, tmp_path: Path
) -> None:
    outdir = tmp_path / "figures"
    with pytest.raises(ValueError, match=re.escape(message)):
        plot_all(summary, disk, outdir)
    assert not outdir.exists()


def test_failed_save_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash_midway(self: Figure, handle, **kwargs) -> None:
        handle.write(b"half a figure")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", crash_midway)
    with pytest.raises(RuntimeError, match="disk full"):
        plot_all(make_summary(), make_disk(), tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("formats", "rotation", "value_rotation"),
    [
        (["files", "lmdb", "hdf5"], 0, 0),
        (["arrow", "zarr_chunked", "tiledb", "parquet"] * 5, 35, 90),
        (["arrow", "zarr_chunked", "tiledb", "parquet"] * 9, 90, 90),
    ],
    ids=["three stores", "twenty long names", "thirty-six long names"],
)
def test_bar_labels_fit_their_space(formats, rotation, value_rotation) -> None:
    """Tick labels keep to their bar's space: upright while they fit at a readable size, tilted
    when twenty stores with names such as "Zarr chunked+zstd" share the widest figure, vertical
    when thirty-six do; value labels above the bars turn vertical then."""
    series = [Series(name, "documented", "zstd", stores.presentation(name)) for name in formats]
    drawn = parts.new_figure(parts.bar_width(len(series)))
    axes = drawn.add_subplot()
    parts.series_axis(axes, series)
    labels = axes.get_xticklabels()
    assert {round(label.get_rotation()) for label in labels} == {rotation}
    assert all(label.get_fontsize() >= parts.SMALLEST_TICK_POINTS for label in labels)
    assert parts.value_label_rotation(axes, len(series)) == value_rotation


# --- The loader's figures ---------------------------------------------------------------------


def loader_summary(tmp_path: Path) -> Path:
    """A loader summary as `imgbench.tables.summarise_loader` writes it: three stores, the
    limits, two samplers (tar also streams) and 0 or 2 workers (none for LevelDB)."""
    rows = []
    rates = {
        ("files", "fast", "png"): 10_000,
        ("lmdb", "fast", "raw"): 150_000,
        ("leveldb", "fast", "raw"): 90_000,
        ("tar", "fast", "png"): 12_000,
        ("limit", "memory", "raw"): 600_000,
        ("limit", "mmap", "raw"): 550_000,
        ("limit", "memory", "png"): 13_000,
    }
    for (name, implementation, codec), rate in rates.items():
        samplers = ["shuffle", "sequential", *(["stream"] if name == "tar" else [])]
        for sampler in samplers:
            for workers in [0] if name == "leveldb" else [0, 2]:
                speed = rate * (1.5 if sampler == "sequential" else 1) * (1.8 if workers else 1)
                rows.append(
                    {
                        "run_id": "test",
                        "method": name,
                        "implementation": implementation,
                        "codec": codec,
                        "image_size": 32,
                        "n_images": 3000,
                        "sampler": sampler,
                        "workers": workers,
                        "batch_size": 256,
                        "epochs": 3,
                        "images": 3000,
                        "seconds_median": 3000 / speed,
                        "seconds_ci_low": 0.9 * 3000 / speed,
                        "seconds_ci_high": 1.1 * 3000 / speed,
                        "images_per_second": speed,
                        "first_batch_seconds": 0.05 if workers else 0.002,
                        "batch_p50_seconds": 256 / speed,
                        "batch_p99_seconds": 2 * 256 / speed,
                        "peak_memory_mib": 30.0,
                        "distinct_labels": 10.0,
                        "distinct_labels_ideal": 10.0,
                        "displacement": {"shuffle": 1 / 3, "sequential": 0, "stream": 0.17}[
                            sampler
                        ],
                    }
                )
    path = tmp_path / "loader_summary.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


LOADER_PRESENTATIONS = {
    name: asdict(stores.presentation(name)) for name in (*stores.formats(), "limit")
}


def test_loader_figures_compare_each_store_with_the_limits(tmp_path: Path) -> None:
    tables = {"loader_summary": loader_summary(tmp_path)}
    for name in ("loader_throughput", "loader_shuffle_tradeoff", "loader_batch_latency"):
        outputs = [tmp_path / f"{name}.{file_type}" for file_type in FILE_TYPES]
        draw(name, "loader", tables, LOADER_PRESENTATIONS, outputs)
        with Image.open(outputs[0]) as image:
            image.verify()
    throughput = svg_text(tmp_path, "loader_throughput")
    assert "0.0167×" in throughput  # files+png: 10,000 ÷ the in-memory 600,000 images/s
    assert "0.25×" in throughput  # LMDB, and LevelDB (0.15×) has no 2-worker bar:
    assert throughput.count("0.15×") == 2  # shuffle and sequential, 0 workers only
    assert "0.02×" in throughput  # tar streaming ÷ the in-memory shuffle
    assert "limit+raw" in throughput and "mmap" in throughput
    tradeoff = svg_text(tmp_path, "loader_shuffle_tradeoff")
    assert all(label in tradeoff for label in ("files+png fast", "tar+png fast", "stream"))
    latency = svg_text(tmp_path, "loader_batch_latency")
    assert "first batch" in latency and "2 worker(s)" in latency


def test_a_loader_summary_without_its_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loader_summary.csv"
    pd.read_csv(loader_summary(tmp_path)).drop(columns="displacement").to_csv(path, index=False)
    with pytest.raises(ValueError, match="loader summary table lacks column"):
        draw(
            "loader_throughput",
            "loader",
            {"loader_summary": path},
            LOADER_PRESENTATIONS,
            [tmp_path / "x.png"],
        )
    assert not (tmp_path / "x.png").exists()
