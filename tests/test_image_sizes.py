"""Image sizes: pools at every size, cutoffs that fit the disk, and every figure and report
section per size, with the tutorial's large-image disk claims checked from `du`."""

from __future__ import annotations

import io
import json
import os
import xml.dom.minidom
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from imgbench import claims, stores
from imgbench.cells import DISK_COLUMNS, FLOOR_FORMAT, SUMMARY_COLUMNS
from imgbench.config_checks import check_free_space, size_cutoffs, store_bytes_estimate
from imgbench.errors import ConfigError
from imgbench.pool import Pool
from imgbench.pool_sources import pool_images, recipe, resize_pool
from imgbench.present import drawing, report, sizes
from imgbench.present.registry import BY_NAME
from imgbench.synthetic import synthetic_images
from imgbench.tables import summarise

PRESENTATIONS = {name: stores.presentation(name) for name in (*stores.formats(), FLOOR_FORMAT)}
# As a figure job's params hold them.
PARAMS = stores.presentations([*stores.formats(), FLOOR_FORMAT])


def test_synthetic_images_are_rendered_at_each_size_and_32_px_is_unchanged() -> None:
    small, labels = synthetic_images(12, seed=3)
    again, _ = synthetic_images(12, seed=3, side=32)
    large, large_labels = synthetic_images(12, seed=3, side=96)
    assert small.shape == (12, 32, 32, 3) and large.shape == (12, 96, 96, 3)
    assert np.array_equal(small, again) and np.array_equal(labels, large_labels)
    assert np.array_equal(large, synthetic_images(12, seed=3, side=96)[0])  # deterministic
    # Rendered, not upsampled: neighbouring pixels carry their own noise.
    assert np.abs(np.diff(large.astype(int), axis=2)).mean() > 2


def test_a_cifar_pool_is_resized_with_the_named_filter(tmp_path: Path) -> None:
    images, labels = synthetic_images(6, seed=1)
    Pool(images, labels).save(tmp_path / "32.npz")
    resize_pool(tmp_path / "32.npz", tmp_path / "64.npz", tmp_path / "64.json", 64, 10)
    pool = Pool.load(tmp_path / "64.npz")
    assert pool.images.shape == (10, 64, 64, 3)  # repeated in order, as every pool is
    assert np.array_equal(pool.labels, np.concatenate([labels, labels[:4]]))
    first = Image.fromarray(images[0]).resize((64, 64), Image.Resampling.LANCZOS)
    assert np.array_equal(pool.images[0], np.asarray(first))
    record = json.loads((tmp_path / "64.json").read_text())
    assert record == {
        "source": "resized",
        "side": 64,
        "images": 10,
        "from_side": 32,
        "filter": "lanczos",
    }


def test_each_dataset_and_size_has_its_pool_recipe(tmp_path: Path) -> None:
    synthetic = {"source": "synthetic", "seed": 4}
    assert recipe(synthetic, 32, 50_000, None, 32) == {"source": "archive"}
    assert recipe(synthetic, 64, 100, None, 32) == {"source": "rendered", "images": 100, "seed": 4}
    assert recipe({"source": "download"}, 64, 100, None, 32) == {"source": "resized", "images": 100}
    folder = {"source": "folder", "folder": str(tmp_path), "labels_csv": None}
    folder |= {"skip_unreadable": False, "seed": 4}
    assert pool_images("synthetic", 32, 50_000, 100_000, 32) == 50_000  # the tutorial's pool
    assert pool_images("synthetic", 256, 50_000, 10_000, 32) == 10_000
    assert pool_images("folder", 32, 45, 60, 32) == 45
    made = recipe(folder, 32, 100, "f" * 64, 32)  # a folder is decoded at every size
    assert made["source"] == "folder" and made["fingerprint"] == "f" * 64
    assert made["images"] == 100 and made["folder"] == str(tmp_path.resolve())


def config(**stores_keys: object) -> dict:
    return {
        "image_sizes": [32, 256],
        "cutoffs": [10, 1000, 100000],
        "stores": {"folder": "results/stores", "node_local": False, **stores_keys},
    }


def test_a_store_size_cap_leaves_out_the_cutoffs_above_it_per_size() -> None:
    assert size_cutoffs(config()) == {32: [10, 1000, 100000], 256: [10, 1000, 100000]}
    # 100,000 images of 256 px are 19.7 GB of pixels, of 32 px 0.3 GB.
    assert size_cutoffs(config(max_gb=2)) == {32: [10, 1000, 100000], 256: [10, 1000]}
    with pytest.raises(ConfigError, match=r"at 256 px no cutoff fits `stores.max_gb`") as error:
        size_cutoffs(config(max_gb=0.001))
    assert "raise `stores.max_gb`" in str(error.value)


def test_a_run_that_does_not_fit_the_disk_is_refused(tmp_path: Path) -> None:
    built = tmp_path / "stores/lmdb/fast/raw/256px/1000"
    built.mkdir(parents=True)
    planned = {built: (256, 1000), tmp_path / "stores/lmdb/fast/raw/256px/10": (256, 10)}
    check_free_space(tmp_path / "stores", planned, {})  # a few MB: fits
    huge = {tmp_path / "stores/raw/baseline/raw/256px/10000000000": (256, 10**10)}
    with pytest.raises(ConfigError) as error:
        check_free_space(tmp_path / "stores", huge, {})
    message = str(error.value)
    assert "need about" in message and "GB free" in message
    assert "lower `cutoffs`, `image_sizes` or `stores.max_gb`" in message
    assert "move `stores.folder`" in message
    # A store already on disk needs no more space, however large it is.
    check_free_space(tmp_path / "stores", {built: (256, 10**10)}, {})
    assert store_bytes_estimate(32, 10) == 10 * 4096  # at least a block per image
    assert store_bytes_estimate(256, 10) == 10 * int(1.1 * 256 * 256 * 3)


def disk_rows(kib_per_image: dict[tuple[str, str, str], dict[int, float]]) -> pd.DataFrame:
    """A disk table at 10 and 10,000 images of each size, from KiB per image."""
    rows = [
        {
            "method": name,
            "implementation": implementation,
            "codec": codec,
            "image_size": side,
            "n_images": n,
            "kib_allocated": round(kib * n),
            "kib_apparent": round(kib * n),
            "sha256": "0" * 64,
        }
        for (name, implementation, codec), per_side in kib_per_image.items()
        for side, kib in per_side.items()
        for n in (10, 10_000)
    ]
    return pd.DataFrame(rows, columns=list(DISK_COLUMNS))


def pixels_kib(side: int) -> float:
    return side * side * 3 / 1024


# LMDB pads each 32 px image to a 4 KiB overflow page (1.33x) and each 256 px one to 49 pages.
LMDB_PAGES = {32: 4.0, 256: 196.0}
HDF5_CONTIGUOUS = {32: pixels_kib(32) * 1.001, 256: pixels_kib(256) * 1.0001}


def large_image_verdict(disk: pd.DataFrame) -> claims.Finding:
    evidence = claims.Evidence.of(disk.assign(operation="n/a"), disk, [], [], cores=2)
    return claims.BY_ID["large_images_lmdb"].rule(evidence)


def test_the_tutorial_large_image_claims_are_checked_from_du() -> None:
    disk = disk_rows(
        {
            ("lmdb", "tutorial", "raw"): LMDB_PAGES,
            ("lmdb", "fast", "raw"): {32: 1.0, 256: 1.0},  # not the tutorial's
            ("hdf5", "tutorial", "raw"): HDF5_CONTIGUOUS,
        }
    )
    found = large_image_verdict(disk)
    # HDF5 is slightly more compact at 256 px, but LMDB's overhead shrank: one part fails.
    assert found.verdict == "does not hold"
    assert "LMDB ÷ its pixels 1.333× at 32 px, 1.021× at 256 px" in found.measured
    assert "LMDB ÷ HDF5 at 256 px 1.021× (N=10,000, du -sk)" in found.measured
    assert "disk_usage.csv lmdb/tutorial/raw 256 px N=10,000" in found.cells
    # An LMDB that grew past the others at 256 px: both parts hold.
    grown = disk_rows(
        {("lmdb", "fast", "raw"): {32: 4.0, 256: 400.0}, ("hdf5", "fast", "raw"): HDF5_CONTIGUOUS}
    )
    assert large_image_verdict(grown).verdict == "holds"
    # One size, or no LMDB: not measured.
    assert large_image_verdict(disk[disk.image_size == 32]).verdict == "not measured"
    assert large_image_verdict(disk[disk.method != "lmdb"]).verdict == "not measured"


def summary_rows(disk: pd.DataFrame) -> pd.DataFrame:
    """A summary of one buffered write and one reference read per store and N, a store of
    larger images slower."""
    rows = []
    for store in disk.itertuples():
        base = {
            "method": store.method,
            "implementation": store.implementation,
            "codec": store.codec,
            "image_size": store.image_size,
            "n_images": store.n_images,
            "readers": 1,
            "writers": 1,
            "sample": 0,
            "images": store.n_images,
            "resident_fraction": None,
            "memory_returned_kib": 0,
            "rss_growth_kib": None,
            "batch_p50_seconds": None,
            "batch_p99_seconds": None,
            "host": "test",
            "filesystem": "ext4",
        }
        seconds = store.n_images * store.image_size**2 * 1e-9
        for operation, phase, cache in (
            ("write_many", "write", "n/a"),
            ("read_many", "read", "warm"),
        ):
            for repeat, deviation in enumerate((-0.01, 0.0, 0.01)):
                rows.append(
                    base
                    | {"operation": operation, "phase": phase, "cache": cache}
                    | {"order": "sequential" if cache == "warm" else "n/a"}
                    | {"repeat": repeat, "seconds": seconds * (1 + deviation)}
                )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def two_sizes() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    disk = disk_rows(
        {("lmdb", "tutorial", "raw"): LMDB_PAGES, ("hdf5", "tutorial", "raw"): HDF5_CONTIGUOUS}
    )
    timings = summary_rows(disk)
    return summarise(timings), timings, disk


def test_a_figure_of_two_sizes_has_a_panel_per_size(tmp_path: Path, two_sizes) -> None:
    summary, _, disk = two_sizes
    tables = {}
    for name, frame in (("summary", summary), ("disk", disk)):
        tables[name] = tmp_path / f"{name}.csv"
        frame.to_csv(tables[name], index=False)
    one = {}
    for name, frame in (("summary", summary), ("disk", disk)):
        one[name] = tmp_path / f"{name}_32.csv"
        frame[frame.image_size == 32].to_csv(one[name], index=False)
    outputs = [tmp_path / "both.png", tmp_path / "both.svg"]
    drawing.draw("read_time_log", "tutorial", tables, PARAMS, outputs)
    single = [tmp_path / "one.png", tmp_path / "one.svg"]
    drawing.draw("read_time_log", "tutorial", one, PARAMS, single)
    both, alone = (Image.open(path) for path in (outputs[0], single[0]))
    assert both.width == alone.width and both.height == 2 * alone.height
    svg = outputs[1].read_text()
    xml.dom.minidom.parseString(svg)  # one well-formed drawing
    assert "32 × 32 px" in svg and "256 × 256 px" in svg
    assert "32 × 32 px" not in single[1].read_text()  # one size: drawn as before
    # The size comparison is drawn once, not per size.
    assert BY_NAME["disk_by_size"].across_sizes is not False
    drawing.draw("disk_by_size", "sizes", tables, PARAMS, [tmp_path / "sizes.png"])
    assert Image.open(tmp_path / "sizes.png").height == alone.height


def test_the_report_has_a_section_per_size(two_sizes) -> None:
    summary, timings, disk = two_sizes
    text = report.render(
        summary,
        timings,
        disk,
        report.job_times([]),
        [],
        {"cpu": "Test CPU", "cores": 2, "memory_gib": 24},
        {"image_sizes": [32, 256]},
        PRESENTATIONS,
        ["read_time_log", "disk_by_size"],
    )
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings.index("## 32 × 32 px") < headings.index("## 256 × 256 px")
    per_size = text[text.index("## 256 × 256 px") : text.index("## Where the run's time went")]
    assert (
        "### Targets at 10,000 images" in per_size and "### Disk use at 10,000 images" in per_size
    )
    assert set(summary.columns) == set(SUMMARY_COLUMNS)


def test_the_pools_section_checks_a_folders_build_time_per_10000_images() -> None:
    folder = {"source": "folder", "images": 5000, "skipped": [{"path": "a.jpg"}]}
    lines = sizes.pools_section([folder | {"side": 32}, folder | {"side": 256}], [4.0, 20.0])
    assert "| 256 px | folder | 5,000 | 1 | 20.0 |" in lines
    target = "| a folder's pools at 2 size(s), per 10,000 images | 48.0 s (24.0 s for 5,000 images)"
    assert f"{target} | ≤ 60 s | met |" in lines
    slow = sizes.pools_section([folder | {"side": 256}], [31.0])
    assert slow[-1].endswith("| not met |")
    rendered = {"source": "rendered", "side": 64, "images": 40}
    assert not any("target" in line for line in sizes.pools_section([rendered], [1.0]))


def test_a_faceted_png_is_the_panels_stacked() -> None:
    def png(width: int, height: int, value: int) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", (width, height), (value,) * 3).save(buffer, format="png")
        return buffer.getvalue()

    stacked = Image.open(io.BytesIO(drawing.stack_png([png(4, 2, 0), png(3, 1, 100)])))
    pixels = np.asarray(stacked)
    assert pixels.shape == (3, 4, 3)
    assert pixels[2, 0, 0] == 100 and pixels[2, 3, 0] == 255  # narrower panel padded with white


# --- The pipeline on a folder of images at two sizes ---------------------------------------------

CLASSES = ("cat", "dog", "fox")


def image_folder_tree(root: Path) -> Path:
    """An ImageFolder tree of small photo-like images in several formats, sizes and modes."""
    rendered, _ = synthetic_images(45, seed=5, side=80)
    kinds = (("jpg", "RGB", (80, 60)), ("png", "RGBA", (70, 80)), ("webp", "L", (80, 80)))
    for index, pixels in enumerate(rendered):
        extension, mode, size = kinds[index % 3]
        image = Image.fromarray(pixels).convert(mode).resize(size)
        folder = root / CLASSES[index % len(CLASSES)]
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / f"{index:03}.{extension}")
    return root


def sizes_config(folder: Path) -> dict:
    from conftest import exactly

    return {
        "dataset": {"source": "folder", "folder": str(folder), "seed": 0},
        "image_sizes": [32, 64],
        "cutoffs": [10, 60],  # 60 > 45 images: the pool repeats, as CIFAR-10's does
        "methods": ["lmdb", "hdf5"],
        "implementations": ["tutorial", "fast"],
        "baseline": True,
        "codecs": {"lmdb": ["raw"], "hdf5": ["raw"]},
        "repeats": exactly(2),
        "single_operations": 3,
        "reads": {"cache": ["warm"], "order": ["sequential", "batched"], "readers": [1]},
        "loader": {"samplers": ["shuffle"], "workers": [0], "batch_size": 16, "n": None},
        # The claims' experiments run at one size and are tested in test_pipeline; claim 6
        # (disk at two sizes) needs only du.
        "claims": {
            name: {"enabled": False} for name in ("append", "concurrent_writers", "read_one")
        },
    }


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory: pytest.TempPathFactory):
    from conftest import copy_project, run_snakemake

    project = copy_project(tmp_path_factory.mktemp("sizes"))
    folder = image_folder_tree(project / "my-images")
    config = sizes_config(folder)
    run = run_snakemake(project, config)
    assert run.returncode == 0, run.output[-4000:]
    return project, folder, config


@pytest.mark.pipeline
def test_a_folder_at_two_sizes_makes_every_table_figure_and_section_per_size(folder_run) -> None:
    from imgbench.present.registry import FIGURES

    project, folder, _ = folder_run
    tables = project / "results/tables"
    for name in ("timings", "summary", "disk_usage", "loader", "loader_summary"):
        table = pd.read_csv(tables / f"{name}.csv")
        assert set(table.image_size) == {32, 64}, name
    disk = pd.read_csv(tables / "disk_usage.csv")
    assert set(zip(disk.image_size, disk.n_images, strict=True)) == {
        (32, 10),
        (32, 60),
        (64, 10),
        (64, 60),
    }
    for side in (32, 64):
        pool = Pool.load(project / f"results/dataset/{side}px/pool.npz")
        assert pool.images.shape == (45, side, side, 3)
        assert set(pool.labels.tolist()) == {0, 1, 2}
        store = project / f"results/stores/hdf5/fast/raw/{side}px/60"
        assert store.is_dir()
    for spec in FIGURES:
        for extension in ("png", "svg"):
            assert (project / f"results/figures/{spec.name}.{extension}").stat().st_size > 0
    faceted = Image.open(project / "results/figures/read_time_log.png")
    once = Image.open(project / "results/figures/disk_by_size.png")
    assert faceted.height > 1.8 * once.height  # a panel per size
    text = (tables / "benchmark.md").read_text()
    for heading in ("## 32 × 32 px", "## 64 × 64 px", "## The tutorial's claims, checked"):
        assert heading in text
    # Two sizes measure claim 6 (LMDB's disk with larger images): its verdict is computed.
    claims = pd.read_csv(tables / "claims.csv").set_index("claim")
    assert claims.loc[6, "verdict"] in ("holds", "does not hold")
    assert "at 64 px" in claims.loc[6, "measured"]
    assert text.count("### Training loader at 60 images") == 2
    assert "## Image pools" in text and "a folder's pools at 2 size(s)" in text
    record = json.loads((project / "results/provenance.json").read_text())
    dataset = record["dataset"]
    assert dataset["source"] == "folder" and dataset["folder"] == str(folder)
    assert [pool["side"] for pool in dataset["pools"]] == [32, 64]
    assert [one["name"] for one in dataset["pools"][0]["classes"]] == list(CLASSES)
    assert dataset["pools"][0]["skipped"] == []


@pytest.mark.pipeline
def test_a_changed_folder_rebuilds_its_pools_and_what_follows_and_nothing_else(folder_run) -> None:
    from conftest import run_snakemake

    project, folder, config = folder_run
    assert run_snakemake(project, config, "-n").planned_jobs() == {}
    first = folder / "cat" / "000.jpg"
    os.utime(first, ns=(first.stat().st_atime_ns, first.stat().st_mtime_ns + 10**9))
    planned = run_snakemake(project, config, "-n").planned_jobs()
    assert planned["build_pool"] == 2 and planned["build_store"] == 2 * 2 * 5
    assert "synthesize_cifar" not in planned and "fetch_cifar" not in planned


@pytest.mark.pipeline
def test_a_bad_file_in_the_folder_stops_the_pool_with_the_list(tmp_path: Path) -> None:
    from conftest import copy_project, run_snakemake

    project = copy_project(tmp_path / "project")
    folder = image_folder_tree(project / "my-images")
    (folder / "dog" / "broken.jpg").write_bytes(b"not a picture")
    config = sizes_config(folder) | {"image_sizes": [32]}
    run = run_snakemake(project, config, "--until", "build_pool")
    assert run.returncode != 0
    assert "dog/broken.jpg" in run.output and "dataset.skip_unreadable: true" in run.output
    assert not (project / "results/dataset/32px/pool.npz").exists()
    skipping = config | {"dataset": config["dataset"] | {"skip_unreadable": True}}
    assert run_snakemake(project, skipping, "--until", "build_pool").returncode == 0
    record = json.loads((project / "results/dataset/32px/pool.json").read_text())
    assert [one["path"] for one in record["skipped"]] == ["dog/broken.jpg"]
