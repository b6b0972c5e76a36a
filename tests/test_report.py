"""The benchmark report: ratios of medians checked against the targets, stated honestly."""

from __future__ import annotations

import pandas as pd

from imgbench import stores
from imgbench.present import registry, report

PRESENTATIONS = {name: stores.presentation(name) for name in stores.formats()}


def read_cell(method: str, implementation: str, seconds: float, **factors: object) -> dict:
    cell = {"method": method, "implementation": implementation, "n_images": 1000}
    cell |= {"operation": "read_many", "phase": "read", "cache": "warm", "order": "sequential"}
    cell |= {"readers": 1, "samples": 3, "images": 1000, "seconds_median": seconds}
    cell |= {"seconds_min": seconds * 0.95, "seconds_max": seconds * 1.05, "seconds_p90": seconds}
    cell |= {"spread": 0.1, "images_per_second": 1000 / seconds, "resident_fraction_max": None}
    return cell | factors


def summary(**overrides: float) -> pd.DataFrame:
    seconds = {
        "png/tutorial": 8.0,
        "png/fast": 2.0,
        "lmdb/tutorial": 0.7,
        "lmdb/fast": 0.1,
        "hdf5/tutorial": 0.12,
        "hdf5/fast": 0.05,
        "raw/baseline": 0.05,
    } | overrides
    rows = [read_cell(*key.split("/"), value) for key, value in seconds.items()]
    rows.append(read_cell("png", "fast", 3.0, cache="cold", spread=0.4, resident_fraction_max=0.0))
    return pd.DataFrame(rows)


def verdicts(frame: pd.DataFrame) -> dict[str, tuple[str, str]]:
    return {
        row[0]: (row[1], row[3])
        for row in report.target_rows(frame, 1000, report.Labels(PRESENTATIONS))
    }


def test_targets_met_and_missed_are_told_apart() -> None:
    rows = verdicts(summary())
    assert rows["LMDB read speed-up, fast ÷ tutorial"] == ("7.00×", "met")
    assert rows["PNG read speed-up, fast ÷ tutorial"] == ("4.00×", "met")
    assert rows["HDF5 read speed-up, fast ÷ tutorial"] == ("2.40×", "NOT met")
    assert rows["HDF5 fast read time ÷ raw read time"] == ("1.00×", "met")
    assert rows["LMDB fast read time ÷ raw read time"] == ("2.00×", "met")
    spread = rows["(max − min) ÷ median, worst read cell"]
    assert spread[0].startswith("40% (PNG fast, cold") and spread[1] == "NOT met"


def test_a_target_without_its_measurements_says_so() -> None:
    frame = summary()
    rows = verdicts(frame[frame.implementation != "tutorial"])
    assert rows["LMDB read speed-up, fast ÷ tutorial"] == ("not measured", "—")


def test_report_states_machine_config_and_largest_run() -> None:
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
    text = report.render(summary(), disk, machine, {"repeats": 3}, PRESENTATIONS, registry.NAMES)
    assert "Test CPU, 2 cores" in text and "`repeats`: 3" in text
    assert "Stores measured on: node-1 (xfs)" in text
    assert "this run's largest is 1,000" in text
    assert "| PNG fast | 4,040 | 2,195 |" in text
    assert text.index("| PNG tutorial |") < text.index("| LMDB tutorial |") < text.index("| raw |")
    assert "![throughput](../figures/throughput.png)" in text  # resolves beside results/tables/
