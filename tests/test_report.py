"""The benchmark report: ratios of medians with their intervals, checked against the targets."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from imgbench import stores
from imgbench.cells import FLOOR_FORMAT, TIMING_COLUMNS
from imgbench.present import registry, report
from imgbench.tables import summarise

PRESENTATIONS = {name: stores.presentation(name) for name in (*stores.formats(), FLOOR_FORMAT)}
# Relative deviations of a cell's repeats from its median: tight, so intervals stay narrow.
TIGHT = (-0.01, 0.0, 0.01, -0.005, 0.005, 0.0)


def read_rows(
    method: str, implementation: str, codec: str, seconds: float, **factors: object
) -> list[dict]:
    """Timing rows of one read cell at 1,000 images, six repeats around `seconds`."""
    deviations = factors.pop("deviations", TIGHT)
    cell = {"method": method, "implementation": implementation, "codec": codec}
    cell |= {"image_size": 32, "n_images": 1000}
    cell |= {"operation": "read_many", "phase": "read", "cache": "warm", "order": "sequential"}
    cell |= {"readers": 1, "writers": 1, "sample": 0, "images": 1000, "resident_fraction": None}
    cell |= {"rss_growth_kib": None}
    cell |= {"memory_returned_kib": 0, "batch_p50_seconds": None, "batch_p99_seconds": None}
    cell |= {"host": "test", "filesystem": "ext4"} | factors
    return [
        cell | {"repeat": repeat, "seconds": seconds * (1 + deviation)}
        for repeat, deviation in enumerate(deviations)
    ]


def timings(**overrides: float) -> pd.DataFrame:
    seconds = {
        "files/tutorial/png": 8.0,
        "files/fast/png": 2.0,
        "lmdb/tutorial/raw": 0.7,
        "lmdb/fast/raw": 0.1,
        "lmdb/fast/jpeg": 0.4,
        "hdf5/tutorial/raw": 0.12,
        "hdf5/fast/raw": 0.05,
        "raw/baseline/raw": 0.05,
        "floor/baseline/png": 1.6,
        "floor/baseline/jpeg": 0.2,
        "sqlite/documented/png": 3.0,
        "sqlite/fast/png": 1.8,
    } | overrides
    rows = [row for key, value in seconds.items() for row in read_rows(*key.split("/"), value)]
    # a cold cell with one slow repeat in six: its interval is wide
    rows += read_rows(
        "files",
        "fast",
        "png",
        3.0,
        cache="cold",
        resident_fraction=0.0,
        deviations=(0, 0, 0, 0, 0, 1),
    )
    # a batched cell: each repeat records its batches' median and 99th percentile
    rows += read_rows(
        "files",
        "fast",
        "png",
        2.5,
        order="batched",
        batch_p50_seconds=0.006,
        batch_p99_seconds=0.02,
    )
    return pd.DataFrame(rows)[list(TIMING_COLUMNS)]


def verdicts(frame: pd.DataFrame) -> dict[str, tuple[str, str]]:
    rows = report.target_rows(
        summarise(frame), report.Samples(frame), 1000, report.Labels(PRESENTATIONS)
    )
    return {row[0]: (row[1], row[3]) for row in rows}


def test_targets_are_met_not_met_or_inconclusive_by_their_intervals() -> None:
    rows = verdicts(timings(**{"hdf5/tutorial/raw": 0.125}))
    assert rows["LMDB read speed-up, fast ÷ tutorial"][1] == "met"  # 7× against ≥ 5×
    assert rows["LMDB read speed-up, fast ÷ tutorial"][0].startswith("7.00× (6.")
    assert rows["PNG files read speed-up, fast ÷ tutorial"] == ("4.00× (3.96–4.04)", "met")
    assert rows["HDF5 read speed-up, fast ÷ tutorial"][1] == "inconclusive"  # 2.5× ± 1%
    assert rows["LMDB fast read time ÷ raw read time"][1] == "met"
    # Every encoded fast store against its codec's decode floor (≤ 1.3×).
    assert rows["files+png fast read ÷ png decode floor"] == ("1.25× (1.24–1.26)", "met")
    assert rows["LMDB+jpeg fast read ÷ jpeg decode floor"] == ("2.00× (1.98–2.02)", "not met")
    assert not [name for name in rows if "+raw" in name and "floor" in name]
    assert rows["SQLite+raw fast read ÷ raw"] == ("not measured", "—")
    rows = verdicts(timings(**{"hdf5/tutorial/raw": 0.1}))
    assert rows["HDF5 read speed-up, fast ÷ tutorial"] == ("2.00× (1.98–2.02)", "not met")
    worst = rows["95% interval of the median ÷ median, worst read cell"]
    assert worst[0] == (
        "±100.0% (files+png fast, cold, sequential, 1 reader(s); 6 repeats, 97% interval)"
    )
    assert worst[1] == "not met"


def test_batched_targets_compare_batched_reads_and_some_ratios_are_only_stated() -> None:
    batched = {"order": "batched", "batch_p50_seconds": 0.01, "batch_p99_seconds": 0.02}
    rows = [
        row
        for key, seconds in {
            "raw/baseline/raw": 0.1,
            "lance/fast/raw": 0.3,
            "parquet/fast/raw": 0.6,
            "parquet/documented/raw": 1.8,
        }.items()
        for row in read_rows(*key.split("/"), seconds, **batched)
    ]
    frame = pd.concat([timings(), pd.DataFrame(rows)[list(TIMING_COLUMNS)]], ignore_index=True)
    found = verdicts(frame)
    assert found["Lance+raw fast batched random read ÷ raw's"] == ("3.00× (2.97–3.03)", "not met")
    assert found["Parquet+raw batched random read, documented ÷ fast"] == (
        "3.00× (2.97–3.03)",
        "—",
    )
    assert found["Lance+raw ÷ Parquet+raw fast, batched random read"][1] == "—"
    assert found["Lance+raw fast read ÷ raw"] == ("not measured", "—")  # no in-order read


def test_a_target_without_its_measurements_says_so() -> None:
    frame = timings()
    rows = verdicts(frame[frame.implementation != "tutorial"])
    assert rows["LMDB read speed-up, fast ÷ tutorial"] == ("not measured", "—")
    rows = verdicts(frame[frame.method != "floor"])  # encoded stores, but no decode floor
    assert rows["files+png fast read ÷ png decode floor"] == ("not measured", "—")


def benchmark_files(folder: Path) -> list[Path]:
    """Benchmark files as Snakemake writes them, for four jobs that ran one after the other."""
    files = []
    jobs = (
        ("build_store/files/fast/png/32px/1000.tsv", 30.0, 1_800_000_030),
        ("single_image/files/fast/png/32px.tsv", 30.0, 1_800_000_095),
        ("read_store/files/fast/png/32px/1000.tsv", 90.0, 1_800_000_125),
        ("decode_floor/png/32px/1000.tsv", 15.0, 1_800_000_140),
    )
    for job, seconds, ended in jobs:
        path = folder / "benchmarks" / job
        path.parent.mkdir(parents=True)
        path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:{seconds:02.0f}\t100\n")
        os.utime(path, (ended, ended))
        files.append(path)
    return files


# What each decode-floor job records of its codec (`quality.json`).
CODEC_RECORDS = [
    {"codec": "png", "jpeg_quality": None, "n_images": 1000, "mean_bytes": 2166.4, "psnr_db": None},
    {
        "codec": "jpeg",
        "jpeg_quality": 90,
        "n_images": 1000,
        "mean_bytes": 1210.0,
        "psnr_db": 38.123,
    },
]


def test_report_states_machine_config_time_and_largest_run(tmp_path: Path) -> None:
    disk = pd.DataFrame(
        [
            {
                "method": "files",
                "implementation": "fast",
                "codec": "png",
                "image_size": 32,
                "n_images": 1000,
                "kib_allocated": 4040,
                "kib_apparent": 2195,
            },
            *(
                {
                    "method": "hdf5",
                    "implementation": "fast",
                    "codec": codec,
                    "image_size": 32,
                    "n_images": 1000,
                    "kib_allocated": kib,
                    "kib_apparent": kib,
                }
                for codec, kib in (("raw", 3000), ("zstd", 2400))
            ),
        ]
    )
    machine = {"cpu": "Test CPU", "cores": 2, "memory_gib": 24, "filesystem": {"type": "ext4"}}
    machine["measured_on"] = [{"host": "node-1", "filesystem": "xfs"}]
    frame = timings()
    frame.loc[3, "memory_returned_kib"] = 2048
    text = report.render(
        summarise(frame),
        frame,
        disk,
        report.job_times(benchmark_files(tmp_path)),
        CODEC_RECORDS,
        machine,
        {"repeats": 3},
        PRESENTATIONS,
        registry.NAMES,
    )
    assert "Test CPU, 2 cores" in text and "`repeats`: 3" in text
    assert "Stores measured on: node-1 (xfs)" in text
    assert "this run's largest is 1,000" in text
    # A compressed store's disk use is given against its container's raw store, if measured.
    assert "| files+png fast | 4,040 | 2,195 | — |" in text
    assert "| HDF5+raw fast | 3,000 | 3,000 | — |" in text
    assert "| HDF5+zstd fast | 2,400 | 2,400 | 0.80× |" in text
    header = "| store | read s | repeats | images/s | ÷ floor | fast's speed-up vs tutorial |"
    assert header + " fast's speed-up vs documented |" in text
    # Encoded stores are divided by their codec's decode floor, raw ones by the raw baseline.
    assert (
        "| files+png fast | 2 (1.98–2.02) | 6 | 500 | 1.25× (1.24–1.26) | 4.0× (4.0–4.0) | — |"
        in text
    )
    assert "| LMDB+raw fast | 0.1 (0.099–0.101) | 6 | 10,000 | 2.00× (1.98–2.02) | 7.0×" in text
    assert "| LMDB+jpeg fast | 0.4 (0.396–0.404) | 6 | 2,500 | 2.00× (1.98–2.02) | — | — |" in text
    assert "| files+png tutorial | 8 (7.92–8.08) | 6 | 125 | 5.00× (4.95–5.05) | — | — |" in text
    assert "| SQLite+png fast | 1.8 (1.782–1.818) | 6 | 556 | 1.12× (1.11–1.14) | — | 1.7×" in text
    assert "| raw | 0.05 (0.0495–0.0505) | 6 | 20,000 | — | — | — |" in text  # no ratio to itself
    assert "| png decode floor | 1.6 (1.584–1.616) | 6 | 625 | — | — | — |" in text
    order = ["| files+png tutorial |", "| LMDB+raw tutorial |", "| LMDB+jpeg fast |", "| raw |"]
    order += ["| png decode floor |", "| jpeg decode floor |"]
    assert [text.index(row) for row in order] == sorted(text.index(row) for row in order)
    assert "| SQLite+png fast read ÷ png decode floor | 1.12× (1.11–1.14) | ≤ 1.3× | met |" in text
    # The codecs section: bytes per image and, for JPEG, its error against the source.
    codecs = text[text.index("## Codecs") : text.index("## One image at a time")]
    assert "| png | 1,000 | 2,166 | lossless |" in codecs
    assert "| jpeg (quality 90) | 1,000 | 1,210 | 38.12 dB |" in codecs
    # Where the time went: four jobs, the decode floor among them as a store of its own.
    assert "(2.3 min) and took 2.8 min in all" in text
    assert "| reading whole stores (every read cell) | 1 | 90 | 55% |" in text
    assert "| one image at a time | 1 | 30 | 18% |" in text
    assert "| decode floors (decoding from memory) | 1 | 15 | 9% |" in text
    assert "| files+png fast | 150 | 91% |" in text and "| png decode floor | 15 | 9% |" in text
    assert "During 1 of 84 timed regions the VM's host took memory back" in text
    variations = text[text.index("## Read variations") :]
    assert (
        "| files+png fast | cold cache | 3 (3–6) | 6 | 1.50× (1.49–2.26) | 0.0% | — |" in variations
    )
    assert (
        "| files+png fast | random order in batches | 2.5 (2.475–2.525) | 6 "
        "| 1.25× (1.24–1.26) | — | 6 / 20 |" in variations
    )
    assert "![throughput](../figures/throughput.png)" in text  # resolves beside results/tables/
    assert "![read_heatmap](../figures/read_heatmap.png)" in text


def test_a_run_without_encoded_codecs_says_so() -> None:
    assert report._codecs_section([])[2] == (
        "No encoded codec was measured in this run (or no decode floor)."
    )


def test_job_times_name_the_store_and_codec_of_each_benchmark_file(tmp_path: Path) -> None:
    times = report.job_times(benchmark_files(tmp_path))
    assert list(times.columns) == report.JOB_TIME_COLUMNS
    stores = zip(times.experiment, times.method, times.implementation, times.codec, strict=True)
    assert list(stores) == [
        ("build_store", "files", "fast", "png"),
        ("single_image", "files", "fast", "png"),
        ("read_store", "files", "fast", "png"),
        ("decode_floor", "floor", "baseline", "png"),
    ]
    assert times.seconds.tolist() == [30.0, 30.0, 90.0, 15.0]
