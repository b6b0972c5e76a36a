"""The benchmark report: ratios of medians with their intervals, checked against the targets."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from imgbench import stores
from imgbench.cells import TIMING_COLUMNS
from imgbench.present import registry, report
from imgbench.tables import summarise

PRESENTATIONS = {name: stores.presentation(name) for name in stores.formats()}
# Relative deviations of a cell's repeats from its median: tight, so intervals stay narrow.
TIGHT = (-0.01, 0.0, 0.01, -0.005, 0.005, 0.0)


def read_rows(method: str, implementation: str, seconds: float, **factors: object) -> list[dict]:
    """Timing rows of one read cell at 1,000 images, six repeats around `seconds`."""
    deviations = factors.pop("deviations", TIGHT)
    cell = {"method": method, "implementation": implementation, "n_images": 1000}
    cell |= {"operation": "read_many", "phase": "read", "cache": "warm", "order": "sequential"}
    cell |= {"readers": 1, "sample": 0, "images": 1000, "resident_fraction": None}
    cell |= {"memory_returned_kib": 0}
    cell |= {"host": "test", "filesystem": "ext4"} | factors
    return [
        cell | {"repeat": repeat, "seconds": seconds * (1 + deviation)}
        for repeat, deviation in enumerate(deviations)
    ]


def timings(**overrides: float) -> pd.DataFrame:
    seconds = {
        "png/tutorial": 8.0,
        "png/fast": 2.0,
        "lmdb/tutorial": 0.7,
        "lmdb/fast": 0.1,
        "hdf5/tutorial": 0.12,
        "hdf5/fast": 0.05,
        "raw/baseline": 0.05,
    } | overrides
    rows = [row for key, value in seconds.items() for row in read_rows(*key.split("/"), value)]
    # a cold cell with one slow repeat in six: its interval is wide
    rows += read_rows(
        "png", "fast", 3.0, cache="cold", resident_fraction=0.0, deviations=(0, 0, 0, 0, 0, 1)
    )
    return pd.DataFrame(rows)[list(TIMING_COLUMNS)]


def verdicts(frame: pd.DataFrame) -> dict[str, tuple[str, str]]:
    rows = report.target_rows(
        summarise(frame), report.Samples(frame), 1000, report.Labels(PRESENTATIONS)
    )
    return {row[0]: (row[1], row[3]) for row in rows}


def test_targets_are_met_not_met_or_inconclusive_by_their_intervals() -> None:
    rows = verdicts(timings(**{"hdf5/tutorial": 0.125}))
    assert rows["LMDB read speed-up, fast ÷ tutorial"][1] == "met"  # 7× against ≥ 5×
    assert rows["LMDB read speed-up, fast ÷ tutorial"][0].startswith("7.00× (6.")
    assert rows["PNG read speed-up, fast ÷ tutorial"][1] == "met"
    assert rows["HDF5 read speed-up, fast ÷ tutorial"][1] == "inconclusive"  # 2.5× ± 1%
    assert rows["LMDB fast read time ÷ raw read time"][1] == "met"
    rows = verdicts(timings(**{"hdf5/tutorial": 0.1}))
    assert rows["HDF5 read speed-up, fast ÷ tutorial"] == ("2.00× (1.98–2.02)", "not met")
    worst = rows["95% interval of the median ÷ median, worst read cell"]
    assert worst[0] == "±100.0% (PNG fast, cold, sequential, 1 reader(s); 6 repeats, 97% interval)"
    assert worst[1] == "not met"


def test_a_target_without_its_measurements_says_so() -> None:
    frame = timings()
    rows = verdicts(frame[frame.implementation != "tutorial"])
    assert rows["LMDB read speed-up, fast ÷ tutorial"] == ("not measured", "—")


def benchmark_files(folder: Path) -> list[Path]:
    """Benchmark files as Snakemake writes them, for three jobs that ran one after the other."""
    files = []
    jobs = (
        ("build_store/png/fast/1000.tsv", 30.0, 1_800_000_030),
        ("single_image/png/fast.tsv", 30.0, 1_800_000_095),
        ("read_store/png/fast/1000.tsv", 90.0, 1_800_000_125),
    )
    for job, seconds, ended in jobs:
        path = folder / "benchmarks" / job
        path.parent.mkdir(parents=True)
        path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:{seconds:02.0f}\t100\n")
        os.utime(path, (ended, ended))
        files.append(path)
    return files


def test_report_states_machine_config_time_and_largest_run(tmp_path: Path) -> None:
    disk = pd.DataFrame(
        [
            {
                "method": "png",
                "implementation": "fast",
                "n_images": 1000,
                "kib_allocated": 4040,
                "kib_apparent": 2195,
            }
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
        machine,
        {"repeats": 3},
        PRESENTATIONS,
        registry.NAMES,
    )
    assert "Test CPU, 2 cores" in text and "`repeats`: 3" in text
    assert "Stores measured on: node-1 (xfs)" in text
    assert "this run's largest is 1,000" in text
    assert "| PNG fast | 4,040 | 2,195 |" in text
    assert "| PNG fast | 2 (1.98–2.02) | 6 | 500 | 40.00× (39.60–40.40) | 4.0× (4.0–4.0) |" in text
    assert text.index("| PNG tutorial |") < text.index("| LMDB tutorial |") < text.index("| raw |")
    assert "(2.1 min) and took 2.5 min in all" in text
    assert "| reading whole stores (every read cell) | 1 | 90 | 60% |" in text
    assert "| one image at a time | 1 | 30 | 20% |" in text
    assert "| raw | 0.05 (0.0495–0.0505) | 6 | 20,000 | — | — |" in text  # no ratio to itself
    assert "| PNG tutorial | 8 (7.92–8.08) | 6 | 125 | 160.00× (158.41–161.60) | — |" in text
    assert "During 1 of 48 timed regions the VM's host took memory back" in text
    assert "![throughput](../figures/throughput.png)" in text  # resolves beside results/tables/
