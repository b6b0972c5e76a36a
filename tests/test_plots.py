"""Tests for imgbench.plots: figures are written, readable, labelled, reproducible, atomic."""

import re
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

from imgbench.plots import FIGURES, FORMATS, figure_paths, plot_all

CUTOFFS = (10, 100, 1000)
# Plausible per-image seconds (write, read) and KiB per image, in the tutorial's proportions.
PER_IMAGE = {
    "png": (4e-4, 2e-4, 4.1),
    "lmdb": (5e-5, 3e-5, 3.2),
    "hdf5": (3e-5, 2e-5, 3.0),
}
LINE_FIGURES = [name for name in FIGURES if name != "disk_usage_stacked"]


def make_summary(methods: dict[str, tuple[float, float, float]]) -> pd.DataFrame:
    """A summary table as the workflow writes it, single-image rows included (not plotted)."""
    rows = []
    for method, (write, read, _) in methods.items():
        for operation, per_image in (("write_many", write), ("read_many", read)):
            for n in CUTOFFS:
                median = per_image * n + 2e-3
                rows.append(
                    {
                        "method": method,
                        "n_images": n,
                        "operation": operation,
                        "repeats": 5,
                        "images": n,
                        "seconds_median": median,
                        "seconds_min": median * 0.9,
                        "seconds_max": median * 1.2,
                        "images_per_second": n / median,
                    }
                )
        for operation in ("write_single", "read_single"):
            rows.append(
                {
                    "method": method,
                    "n_images": 1,
                    "operation": operation,
                    "repeats": 5,
                    "images": 1,
                    "seconds_median": 1e-3,
                    "seconds_min": 9e-4,
                    "seconds_max": 2e-3,
                    "images_per_second": 1000.0,
                }
            )
    return pd.DataFrame(rows)


def make_disk(methods: dict[str, tuple[float, float, float]]) -> pd.DataFrame:
    """A disk table: one store per method and cutoff, sizes growing with N."""
    return pd.DataFrame(
        [
            {
                "method": method,
                "n_images": n,
                "kib_allocated": int(kib * n) + 4,
                "kib_apparent": int(kib * n * 0.9) + 1,
            }
            for method, (_, _, kib) in methods.items()
            for n in CUTOFFS
        ]
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """Render the three known methods once; most tests only inspect the files."""
    outdir = tmp_path_factory.mktemp("plots") / "nested" / "figures"
    return outdir, plot_all(make_summary(PER_IMAGE), make_disk(PER_IMAGE), outdir)


def svg_text(outdir: Path, name: str) -> str:
    return (outdir / f"{name}.svg").read_text(encoding="utf-8")


def test_figure_paths_lists_every_figure_in_every_format(tmp_path: Path) -> None:
    paths = figure_paths(tmp_path)
    assert len(paths) == len(FIGURES) * len(FORMATS) == 14
    assert tmp_path / "store_time_log.svg" in paths
    assert tmp_path / "disk_usage_stacked.png" in paths


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
        assert 600 <= width <= 2000 and 400 <= height <= 1500, (name, image.size)
        assert width > height


def test_line_figures_have_labels_titles_and_method_legend(
    rendered: tuple[Path, list[Path]],
) -> None:
    outdir, _ = rendered
    titles = {
        "store_time_linear": "Storage time",
        "store_time_log": "Storage time (log scale)",
        "read_time_linear": "Read time",
        "read_time_log": "Read time (log scale)",
        "read_write_linear": "Read and write time",
        "read_write_log": "Read and write time (log scale)",
    }
    for name in LINE_FIGURES:
        text = svg_text(outdir, name)
        assert "Number of images" in text and "Time (s)" in text, name
        assert f"<!-- {titles[name]} -->" in text, name
        for label in ("PNG", "LMDB", "HDF5"):
            assert label in text, (name, label)
    combined = svg_text(outdir, "read_write_linear")
    for label in ("PNG", "LMDB", "HDF5"):
        assert f"{label} write" in combined and f"{label} read" in combined


def test_disk_figure_has_methods_and_cutoff_legend(rendered: tuple[Path, list[Path]]) -> None:
    outdir, _ = rendered
    text = svg_text(outdir, "disk_usage_stacked")
    assert "Disk use (MiB, du -sk)" in text
    assert "Disk space used by each method" in text
    for label in ("PNG", "LMDB", "HDF5", "N = 10", "N = 100", "N = 1000"):
        assert f"<!-- {label} -->" in text, label


def test_same_input_gives_byte_identical_files(
    rendered: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    outdir, paths = rendered
    again = plot_all(make_summary(PER_IMAGE), make_disk(PER_IMAGE), tmp_path)
    for first, second in zip(paths, again, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name


def test_row_and_method_order_do_not_change_output(
    rendered: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    outdir, _ = rendered
    reversed_methods = dict(reversed(PER_IMAGE.items()))
    summary = make_summary(reversed_methods).sample(frac=1.0, random_state=3)
    disk = make_disk(reversed_methods).sample(frac=1.0, random_state=4)
    plot_all(summary, disk, tmp_path)
    for name in FIGURES:
        assert svg_text(tmp_path, name) == svg_text(outdir, name), name


def test_unknown_method_uses_raw_name_and_known_colours_stay_fixed(tmp_path: Path) -> None:
    methods = {"lmdb": PER_IMAGE["lmdb"], "zarr": (2e-5, 1e-5, 3.1)}
    paths = plot_all(make_summary(methods), make_disk(methods), tmp_path)
    assert all(path.stat().st_size > 0 for path in paths)
    for name in LINE_FIGURES:
        text = svg_text(tmp_path, name)
        assert "zarr" in text and "LMDB" in text, name
        assert "#ff7f0e" in text, name  # LMDB keeps tab:orange even without PNG present
        assert "#1f77b4" not in text, name  # PNG's blue is not handed to the unknown method
    assert "zarr" in svg_text(tmp_path, "disk_usage_stacked")


@pytest.mark.parametrize(
    ("summary", "disk", "message"),
    [
        (
            make_summary(PER_IMAGE).query("operation.str.endswith('single')"),
            make_disk(PER_IMAGE),
            "summary table has no 'write_many' rows",
        ),
        (
            make_summary(PER_IMAGE).query("operation != 'read_many'"),
            make_disk(PER_IMAGE),
            "summary table has no 'read_many' rows",
        ),
        (make_summary(PER_IMAGE).iloc[0:0], make_disk(PER_IMAGE), "summary table is empty"),
        (make_summary(PER_IMAGE), make_disk(PER_IMAGE).iloc[0:0], "disk table is empty"),
        (
            make_summary(PER_IMAGE),
            make_disk(PER_IMAGE).drop(columns="kib_allocated"),
            "disk table lacks column(s): kib_allocated",
        ),
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
        plot_all(make_summary(PER_IMAGE), make_disk(PER_IMAGE), tmp_path)
    assert list(tmp_path.iterdir()) == []
