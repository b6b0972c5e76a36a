"""Each of the tutorial's claims judged from synthetic tables: where it clearly holds, where it
clearly does not, and where the 95% intervals overlap; the claims table, the report section, the
figures and `compare`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from imgbench import claims
from imgbench.cells import CLAIM_COLUMNS, SUMMARY_COLUMNS
from imgbench.claims import CLAIMS, Evidence, Verdict
from imgbench.present import claims as claims_report
from imgbench.present import drawing, registry

TUTORIAL = {"files": ("files", "tutorial", "png"), "lmdb": ("lmdb", "tutorial", "raw")}
TUTORIAL["hdf5"] = ("hdf5", "tutorial", "raw")
READ = {"cache": "warm", "order": "sequential", "readers": 1}
NOT_A_READ = {"cache": "n/a", "order": "n/a", "readers": 1}


def cell(
    store: tuple[str, str, str],
    operation: str,
    n: int,
    median: float,
    spread: float = 0.02,
    **factors: object,
) -> dict[str, object]:
    """One summary row: a median with an interval of ±`spread` of it."""
    phase = "read" if operation.startswith("read") else "write"
    row = dict(zip(("method", "implementation", "codec"), store, strict=True))
    row |= {"image_size": 32, "n_images": n, "operation": operation, "phase": phase}
    row |= (READ if phase == "read" and operation != "read_one" else NOT_A_READ) | {"writers": 1}
    row |= factors
    row |= {"samples": 6, "images": n, "seconds_median": median}
    row |= {"seconds_ci_low": median * (1 - spread), "seconds_ci_high": median * (1 + spread)}
    row |= {"ci_coverage": 0.97, "ci_half_width": spread, "rss_growth_kib_median": None}
    return row


def evidence(rows: list[dict], disk: list[dict] = (), appends=(), writers=(), cores=2) -> Evidence:
    summary = pd.DataFrame(rows).reindex(columns=list(SUMMARY_COLUMNS))
    disk_frame = pd.DataFrame(
        list(disk),
        columns=["method", "implementation", "codec", "image_size", "n_images"] + ["kib_allocated"],
    )
    return Evidence.of(summary, disk_frame, list(appends), list(writers), cores)


def judged(claim_id: str, found: Evidence) -> claims.Finding:
    return claims.BY_ID[claim_id].rule(found)


def single(operation: str, files: float, lmdb: float, hdf5: float, spread=0.02) -> list[dict]:
    return [
        cell(TUTORIAL[name], operation, 1, seconds, spread)
        for name, seconds in (("files", files), ("lmdb", lmdb), ("hdf5", hdf5))
    ]


@pytest.mark.parametrize(
    ("seconds", "spread", "verdict"),
    [
        ((1.9e-3, 1.2e-3, 8.2e-3), 0.02, Verdict.HOLDS),  # the tutorial's own numbers
        ((0.5e-3, 1.1e-3, 1.0e-3), 0.02, Verdict.DOES_NOT_HOLD),  # PNG fastest
        ((1.9e-3, 1.8e-3, 8.2e-3), 0.10, Verdict.INCONCLUSIVE),  # LMDB and PNG overlap
    ],
)
def test_storing_one_image_lmdb_fastest_hdf5_slowest(seconds, spread, verdict) -> None:
    found = judged("single_write", evidence(single("write_single", *seconds, spread=spread)))
    assert found.verdict == verdict
    assert "lmdb/tutorial/raw 32 px N=1 write_single write" in found.cells


@pytest.mark.parametrize(
    ("seconds", "verdict"),
    [
        ((1.6e-3, 4.5e-3, 2.0e-3), Verdict.HOLDS),
        ((1.6e-3, 4.5e-3, 20e-3), Verdict.DOES_NOT_HOLD),  # HDF5 not trivially quick
        ((1.6e-3, 1.6e-3, 2.0e-3), Verdict.INCONCLUSIVE),  # PNG and LMDB tie
    ],
)
def test_reading_one_image_png_fastest_and_all_trivially_quick(seconds, verdict) -> None:
    assert judged("single_read", evidence(single("read_single", *seconds))).verdict == verdict


def many(operation: str, seconds: dict[str, dict[int, float]], spread=0.02) -> list[dict]:
    return [
        cell(TUTORIAL[name], operation, n, value, spread)
        for name, by_n in seconds.items()
        for n, value in by_n.items()
    ]


@pytest.mark.parametrize(
    ("png", "spread", "verdict"),
    [
        (10.0, 0.02, Verdict.HOLDS),
        (1.2, 0.02, Verdict.DOES_NOT_HOLD),
        (2.0, 0.1, Verdict.INCONCLUSIVE),
    ],
)
def test_png_by_far_the_slowest_for_many_images(png, spread, verdict) -> None:
    seconds = {"files": {1000: png}, "lmdb": {1000: 1.0}, "hdf5": {1000: 0.5}}
    rows = many("write_many", seconds, spread) + many("read_many", seconds, spread)
    found = judged("many_png_slowest", evidence(rows))
    assert found.verdict == verdict
    assert "at N=1,000" in found.measured


def test_hdf5_overtakes_lmdb_with_the_crossover_between_two_cutoffs() -> None:
    lmdb = {10: 1.0, 100: 2.0, 1000: 10.0}
    hdf5 = {10: 3.0, 100: 2.0, 1000: 5.0}  # slower, tied, then faster
    seconds = {"lmdb": lmdb, "hdf5": hdf5}
    rows = many("write_many", seconds) + many("read_many", seconds)
    found = judged("hdf5_overtakes_lmdb", evidence(rows))
    assert found.verdict == Verdict.HOLDS
    assert "overtakes between N=10 and N=1,000" in found.measured
    # Faster from the start: it never overtakes.
    early = {"lmdb": lmdb, "hdf5": {10: 0.5, 100: 1.0, 1000: 5.0}}
    rows = many("write_many", early) + many("read_many", early)
    found = judged("hdf5_overtakes_lmdb", evidence(rows))
    assert found.verdict == Verdict.DOES_NOT_HOLD
    assert "never surely slower; surely faster from N=10" in found.measured
    # Tied at the largest N: inconclusive.
    tied = {"lmdb": lmdb, "hdf5": {10: 3.0, 100: 2.0, 1000: 10.0}}
    rows = many("write_many", tied) + many("read_many", tied)
    assert judged("hdf5_overtakes_lmdb", evidence(rows)).verdict == Verdict.INCONCLUSIVE


def disk_row(store, n, kib, size=32) -> dict:
    return dict(zip(("method", "implementation", "codec"), store, strict=True)) | {
        "image_size": size,
        "n_images": n,
        "kib_allocated": kib,
    }


def test_lmdb_uses_the_most_disk_from_du() -> None:
    disk = [disk_row(TUTORIAL["files"], 1000, 4000), disk_row(TUTORIAL["hdf5"], 1000, 3000)]
    most = judged("lmdb_most_disk", evidence([], disk + [disk_row(TUTORIAL["lmdb"], 1000, 4100)]))
    assert most.verdict == Verdict.HOLDS
    assert "disk_usage.csv lmdb/tutorial/raw 32 px N=1,000" in most.cells
    less = judged("lmdb_most_disk", evidence([], disk + [disk_row(TUTORIAL["lmdb"], 1000, 3900)]))
    assert less.verdict == Verdict.DOES_NOT_HOLD
    assert judged("lmdb_most_disk", evidence([], disk)).verdict == Verdict.NOT_MEASURED


def readers(one: float, two: float, four: float, spread=0.02) -> list[dict]:
    store = ("lmdb", "fast", "raw")
    return [
        cell(store, "read_many", 100_000, one, spread),
        cell(store, "read_many", 100_000, two, spread, readers=2),
        cell(store, "read_many", 100_000, four, spread, readers=4),
    ]


@pytest.mark.parametrize(
    ("two", "spread", "verdict"),
    [
        (0.55, 0.02, Verdict.HOLDS),
        (1.0, 0.02, Verdict.DOES_NOT_HOLD),
        (0.7, 0.1, Verdict.INCONCLUSIVE),
    ],
)
def test_concurrent_lmdb_readers_judged_at_the_cores(two, spread, verdict) -> None:
    found = judged("lmdb_concurrent_readers", evidence(readers(1.0, two, two, spread), cores=2))
    assert found.verdict == verdict
    assert "judged at 2 readers on 2 cores" in found.measured and "4: " in found.measured


def test_one_reader_only_is_not_measured_with_the_key_to_turn_on() -> None:
    table = claims.evaluate(evidence(readers(1.0, 0.5, 0.5)[:1]))
    row = table.set_index("id").loc["lmdb_concurrent_readers"]
    assert row.verdict == "not measured" and "reads.readers" in row.to_measure


def writer_rows(files: float, lmdb: float) -> list[dict]:
    rows = []
    for name, many_seconds in (("files", files), ("lmdb", lmdb), ("hdf5", 1.0)):
        store = (name, "fast", "png" if name == "files" else "raw")
        rows += [
            cell(store, "write_concurrent", 1000, 1.0, 0.02, writers=1),
            cell(store, "write_concurrent", 1000, many_seconds, 0.02, writers=2),
        ]
    return rows


def outcome(name: str, shared: bool, wait: float, refusal: str | None = None) -> dict:
    return {
        "method": name,
        "implementation": "fast",
        "codec": "png" if name == "files" else "raw",
        "image_size": 32,
        "n_images": 1000,
        "writers": 2,
        "shared": shared,
        "refusal": refusal,
        "lock_wait_share": wait,
    }


def test_concurrent_writers_png_scales_lmdb_waits_hdf5_refuses() -> None:
    lock = "OSError: Unable to open file (unable to lock file, errno = 11)"
    outcomes = [outcome("files", True, 0.0), outcome("lmdb", True, 0.45)]
    outcomes += [outcome("hdf5", False, 0.0, lock)]
    found = judged("concurrent_writers", evidence(writer_rows(0.55, 1.0), writers=outcomes))
    assert found.verdict == Verdict.HOLDS
    assert "unable to lock file" in found.measured
    # HDF5 let a second writer in: the claim fails.
    shared_hdf5 = outcomes[:2] + [outcome("hdf5", True, 0.0)]
    found = judged("concurrent_writers", evidence(writer_rows(0.55, 1.0), writers=shared_hdf5))
    assert found.verdict == Verdict.DOES_NOT_HOLD
    # LMDB writers that waited a little: inconclusive.
    unsure = [outcome("files", True, 0.0), outcome("lmdb", True, 0.03), outcomes[2]]
    found = judged("concurrent_writers", evidence(writer_rows(0.55, 1.0), writers=unsure))
    assert found.verdict == Verdict.INCONCLUSIVE


@pytest.mark.parametrize(
    ("claim_id", "name", "slower_order"),
    [("lmdb_key_order", "lmdb", "batched"), ("hdf5_range", "hdf5", "random")],
)
def test_read_order_claims(claim_id, name, slower_order) -> None:
    store = (name, "fast", "raw")

    def rows(ordered: float, other: float, spread=0.02) -> list[dict]:
        return [
            cell(store, "read_many", 10_000, ordered, spread),
            cell(store, "read_many", 10_000, other, spread, order=slower_order),
        ]

    assert judged(claim_id, evidence(rows(1.0, 2.0))).verdict == Verdict.HOLDS
    assert judged(claim_id, evidence(rows(2.0, 1.0))).verdict == Verdict.DOES_NOT_HOLD
    assert judged(claim_id, evidence(rows(1.0, 1.05, 0.1))).verdict == Verdict.INCONCLUSIVE


def append_record(name: str, needed: str, map_full: bool, rewrite: bool) -> dict:
    return {
        "method": name,
        "implementation": "tutorial",
        "codec": "raw",
        "image_size": 32,
        "n_images": 1000,
        "images": 100,
        "needed": needed,
        "map_full": map_full,
        "rewrite": rewrite,
    }


def test_adding_data_later_lmdb_map_full_and_hdf5_grows() -> None:
    rows = [cell(TUTORIAL[name], "append", 1000, 0.01) for name in ("lmdb", "hdf5")]
    full = append_record("lmdb", "map full: map_size raised 1 time(s)", True, False)
    grows = append_record("hdf5", "resized both datasets", False, False)
    found = judged("append", evidence(rows, appends=[full, grows]))
    assert found.verdict == Verdict.HOLDS and "map full" in found.measured
    assert "lmdb/tutorial/raw 32 px N=1,000 append write" in found.cells
    rewrote = append_record("hdf5", "rewrote the file", False, True)
    assert (
        judged("append", evidence(rows, appends=[full, rewrote])).verdict == Verdict.DOES_NOT_HOLD
    )
    room = append_record("lmdb", "map had room", False, False)
    assert judged("append", evidence(rows, appends=[room, grows])).verdict == Verdict.DOES_NOT_HOLD
    assert judged("append", evidence(rows)).verdict == Verdict.NOT_MEASURED


@pytest.mark.parametrize(
    ("grown_kib", "verdict"),
    [(400, Verdict.HOLDS), (300_000, Verdict.DOES_NOT_HOLD), (20_000, Verdict.INCONCLUSIVE)],
)
def test_one_image_read_takes_only_its_item_into_memory(grown_kib, verdict) -> None:
    rows, disk = [], []
    for name in ("lmdb", "hdf5"):
        row = cell(TUTORIAL[name], "read_one", 100_000, 0.001)
        rows.append(row | {"rss_growth_kib_median": grown_kib})
        disk.append(disk_row(TUTORIAL[name], 100_000, 400_000))
    found = judged("read_one_memory", evidence(rows, disk))
    assert found.verdict == verdict
    assert f"+{grown_kib:,} KiB resident" in found.measured


def test_every_claim_has_a_row_and_a_drawn_figure_and_is_not_measured_without_data() -> None:
    table = claims.evaluate(evidence([]))
    assert list(table.columns) == list(CLAIM_COLUMNS)
    assert list(table["claim"]) == list(range(1, 13))
    assert set(table["verdict"]) == {"not measured"}
    assert all(table["to_measure"].str.len() > 0)
    assert {claim.figure for claim in CLAIMS} <= set(registry.NAMES)


def test_the_report_section_and_figures_from_a_claims_table(tmp_path: Path) -> None:
    rows = single("write_single", 1.9e-3, 1.2e-3, 8.2e-3) + single(
        "read_single", 1.6e-3, 4.5e-3, 20e-3
    )
    table = claims.evaluate(evidence(rows))
    lines = claims_report.claims_section(table)
    assert lines[0] == "## The tutorial's claims, checked on this machine (32 px images)"
    assert any(line.startswith("| 1 | Storing one image") and "**holds**" in line for line in lines)
    assert "- 1: lmdb/tutorial/raw 32 px N=1 write_single write" in "\n".join(lines)
    table.to_csv(tmp_path / "claims.csv", index=False)
    for name in ("claims_verdicts",):
        outputs = [tmp_path / f"{name}.png", tmp_path / f"{name}.svg"]
        drawing.draw(name, "claims", {"claims": tmp_path / "claims.csv"}, {}, outputs)
        assert Image.open(outputs[0]).height > 600
