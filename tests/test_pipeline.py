"""The real `snakemake` on a small synthetic config: outputs, reruns, downloads, failures."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from imgbench import cli, open_store, provenance
from imgbench.cells import (
    CLAIM_COLUMNS,
    DISK_COLUMNS,
    LOADER_COLUMNS,
    LOADER_SUMMARY_COLUMNS,
    TIMING_COLUMNS,
)
from imgbench.claims import Cell
from imgbench.present.registry import FIGURES, FILE_TYPES
from imgbench.synthetic import synthetic_images
from imgbench.tables import read_table

from conftest import TINY_CONFIG, TINY_TRAIN_IMAGES, Run, copy_project, merged, run_snakemake

pytestmark = pytest.mark.pipeline
# (format, implementation, codec) of every store TINY_CONFIG measures, and its decode floors.
STORES = [
    (name, implementation, codec)
    for name, codec in (("files", "png"), ("lmdb", "raw"), ("hdf5", "raw"))
    for implementation in ("tutorial", "fast")
] + [("raw", "baseline", "raw")]
FLOORS = [("floor", "baseline", "png")]
# The stores the loader experiment reads (`loader.implementations`: fast and the baseline).
LOADED = [store for store in STORES if store[1] != "tutorial"]
# The stores the concurrent-writers experiment writes (`claims.concurrent_writers`: fast, raw).
WRITERS = LOADED
# The figures of a run of one image size: all but those comparing sizes.
NAMES = [spec.name for spec in FIGURES if not spec.across_sizes]
POOL = "results/dataset/32px/pool.npz"


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Run]:
    """One complete run of the default target on the tiny synthetic config."""
    project = copy_project(tmp_path_factory.mktemp("pipeline"))
    run = run_snakemake(project, TINY_CONFIG)
    assert run.returncode == 0, run.output[-4000:]
    return project, run


def test_every_table_and_figure_is_made(finished) -> None:
    project, _ = finished
    timings = pd.read_csv(project / "results/tables/timings.csv")
    assert tuple(timings.columns) == ("run_id", *TIMING_COLUMNS)
    series = zip(timings.method, timings.implementation, timings.codec, strict=True)
    assert set(series) == set(STORES + FLOORS)
    writes = timings[timings.operation == "write_many"]
    assert len(writes) == len(STORES) * 2 * 2 * 2  # stores x cutoffs x phases x repeats
    assert set(writes.phase) == {"write", "sync"} and set(writes.n_images) == {10, 150}
    reads = timings[timings.operation == "read_many"]
    # Read cells per store: five for `reads.variations_for` (fast and baseline by default), the
    # reference cell alone for the tutorial's code.
    read_cells = sum(1 if implementation == "tutorial" else 5 for _, implementation, _ in STORES)
    read_cells += len(FLOORS)  # a decode floor: the reference cell alone
    assert len(reads) == read_cells * 2 * 2  # x cutoffs x repeats
    floor = reads[reads.method == "floor"]
    assert set(floor.n_images) == {10, 150}
    table = project / "results/measurements/floor/png/32px/150/read_many.csv"
    floor_table = pd.read_csv(table, keep_default_na=False)
    assert set(floor_table.filesystem) == {"n/a"}  # decoded from memory: no filesystem
    assert set(zip(floor.cache, floor.order, floor.readers, strict=True)) == {
        ("warm", "sequential", 1)
    }
    tutorial = reads[reads.implementation == "tutorial"]
    tutorial_cells = set(zip(tutorial.cache, tutorial.order, tutorial.readers, strict=True))
    assert tutorial_cells == {("warm", "sequential", 1)}
    cells = set(zip(reads.cache, reads.order, reads.readers, strict=True))
    assert cells == {
        ("warm", "sequential", 1),
        ("cold", "sequential", 1),
        ("warm", "random", 1),
        ("warm", "batched", 1),
        ("warm", "sequential", 2),
    }
    batched = reads.order == "batched"
    assert reads[batched].batch_p99_seconds.gt(0).all()
    assert reads[~batched].batch_p50_seconds.isna().all()
    cold = reads[reads.cache == "cold"]
    assert (
        cold.resident_fraction.between(0, 1).all()
        and reads[reads.cache == "warm"].resident_fraction.isna().all()
    )
    single = timings[timings.operation.isin(["write_single", "read_single"])]
    assert len(single) == len(STORES) * 2 * 2 * 5 and set(single.n_images) == {1}
    assert (timings.seconds > 0).all()

    disk = pd.read_csv(project / "results/tables/disk_usage.csv")
    assert tuple(disk.columns) == ("run_id", *DISK_COLUMNS)
    assert len(disk) == len(STORES) * 2 and (disk.kib_allocated > 0).all()

    summary = pd.read_csv(project / "results/tables/summary.csv")
    claim_cells = len(STORES) * 2 + len(WRITERS) * 2  # append and read_one; 1 and 2 writers
    assert len(summary) == len(STORES) * (2 * 2 + 2) + read_cells * 2 + claim_cells
    key = "method == 'lmdb' and implementation == 'fast' and codec == 'raw' and n_images == 150"
    key += " and operation == 'read_many' and cache == 'warm' and order == 'sequential'"
    key += " and readers == 1"
    row, cell = summary.query(key).iloc[0], reads.query(key).seconds
    assert row.seconds_median == pytest.approx(cell.median())
    assert row.seconds_min == pytest.approx(cell.min()) and row.seconds_max == pytest.approx(
        cell.max()
    )
    assert row.images_per_second == pytest.approx(150 / cell.median())
    # two repeats: the interval is their range, which covers the median half the time
    assert (row.seconds_ci_low, row.seconds_ci_high, row.ci_coverage) == pytest.approx(
        (cell.min(), cell.max(), 0.5)
    )

    report = (project / "results/tables/benchmark.md").read_text()
    assert "LMDB read speed-up, fast ÷ tutorial" in report and "150 images" in report
    assert "| files+png fast read ÷ png decode floor |" in report
    assert "| HDF5+raw fast reader[i], random order, per image | " in report
    assert "| LMDB+raw fast batched random read ÷ raw's (memory-mapped gather) | " in report
    assert "| png decode floor |" in report and "| files+png tutorial |" in report
    codecs = report[report.index("## Codecs") :]
    assert "| png | 150 |" in codecs and "lossless" in codecs
    quality = json.loads(
        (project / "results/measurements/floor/png/32px/150/quality.json").read_text()
    )
    assert quality["codec"] == "png" and quality["n_images"] == 150
    assert quality["psnr_db"] is None and 0 < quality["mean_bytes"] < 32 * 32 * 3
    assert (project / "results/measurements/floor/png/32px/10/read_many.csv").is_file()
    for name in NAMES:
        for file_type in FILE_TYPES:
            figure = project / f"results/figures/{name}.{file_type}"
            assert figure.stat().st_size > 1000, figure


def test_the_loader_reads_every_loaded_store_and_the_limits(finished) -> None:
    """TINY_CONFIG's loader: shuffle (and stream for none of these stores) with 0 and 2
    workers, two timed epochs per cell, each checked, at the largest cutoff."""
    project, _ = finished
    epochs = pd.read_csv(project / "results/tables/loader.csv")
    assert tuple(epochs.columns) == ("run_id", *LOADER_COLUMNS)
    limits = [("limit", "memory", "raw"), ("limit", "mmap", "raw"), ("limit", "memory", "png")]
    cells = set(
        zip(epochs.method, epochs.implementation, epochs.codec, epochs.workers, strict=True)
    )
    assert cells == {(*store, workers) for store in LOADED + limits for workers in (0, 2)}
    assert set(epochs.sampler) == {"shuffle"} and set(epochs.n_images) == {150}
    assert len(epochs) == len(cells) * 2 and (epochs.seconds > 0).all()
    summary = pd.read_csv(project / "results/tables/loader_summary.csv")
    assert tuple(summary.columns) == ("run_id", *LOADER_SUMMARY_COLUMNS) and len(summary) == len(
        cells
    )
    report = (project / "results/tables/benchmark.md").read_text()
    section = report[report.index("## Training loader at 150 images") :]
    assert (
        "| LMDB+raw fast | shuffle | 2 |" in section
        and "| limit+raw mmap | shuffle | 0 |" in section
    )
    assert "| files+png fast loader images/s ÷ png decoded from memory's |" in section


def test_the_repeats_not_kept_are_deleted_after_the_last_timing_job(finished) -> None:
    project, _ = finished
    record = (project / "results/measurements/discarded.txt").read_text()
    assert record.startswith("deleted ") and "set aside by timing jobs" in record
    assert list((project / "results/stores/.discarded").iterdir()) == []
    assert not list((project / "results/stores").glob("*/*/.*"))  # no scratch left beside stores


def test_every_store_holds_the_repeated_training_images(finished) -> None:
    project, _ = finished
    pool, labels = synthetic_images(TINY_TRAIN_IMAGES, seed=7)
    for method, implementation, codec in STORES:
        with open_store(
            project / f"results/stores/{method}/{implementation}/{codec}/32px/150"
        ) as reader:
            assert len(reader) == 150
            images, read_labels = reader.read_many(np.arange(150))
        np.testing.assert_array_equal(images[100:], pool[:50])  # repeated in order
        np.testing.assert_array_equal(read_labels[:100], labels)


def test_timing_jobs_never_overlap(finished) -> None:
    project, _ = finished
    log = max((project / ".snakemake/log").glob("*.snakemake.log"), key=os.path.getmtime)
    running, most = set(), 0
    rules: dict[str, str] = {}
    current_rule = None
    for line in log.read_text().splitlines():
        line = line.strip()
        if line.startswith(("rule ", "localrule ")):
            current_rule = line.split()[-1].rstrip(":")
        elif line.startswith("jobid:") and current_rule:
            jobid = line.split()[1]
            rules[jobid] = current_rule
            if current_rule in {
                "build_store",
                "read_store",
                "single_image",
                "decode_floor",
                "loader",
                "loader_limits",
            }:
                running.add(jobid)
                most = max(most, len(running))
        elif line.startswith("Finished jobid:"):
            running.discard(line.split()[2])
    assert most == 1
    assert sum(rule == "build_store" for rule in rules.values()) == len(STORES) * 2
    assert sum(rule == "decode_floor" for rule in rules.values()) == len(FLOORS) * 2


def test_the_claims_table_opens_the_report_and_traces_to_summary_rows(finished) -> None:
    project, _ = finished
    table = pd.read_csv(project / "results/tables/claims.csv", keep_default_na=False)
    assert tuple(table.columns) == CLAIM_COLUMNS and list(table.claim) == list(range(1, 13))
    assert set(table.verdict) <= {"holds", "does not hold", "inconclusive", "not measured"}
    # Only the large-image claim lacks its experiment (one image size).
    assert list(table[table.verdict == "not measured"].id) == ["large_images_lmdb"]
    summary = read_table(project / "results/tables/summary.csv")
    disk = read_table(project / "results/tables/disk_usage.csv")
    rows = {Cell.of(row).trace for row in summary.to_dict("records")}
    rows |= {
        f"disk_usage.csv {row['method']}/{row['implementation']}/{row['codec']} "
        f"{row['image_size']} px N={row['n_images']:,}"
        for row in disk.to_dict("records")
    }
    for claim in table.itertuples():
        if claim.verdict != "not measured":
            cells = claim.summary_cells.split("; ")
            assert cells and set(cells) <= rows, (claim.id, set(cells) - rows)
    # The experiments' records: what each store needed, how its writers fared.
    experiments = pd.read_csv(project / "results/tables/claim_experiments.csv")
    appended = experiments[experiments.experiment == "append"]
    assert len(appended) == len(STORES) and appended.needed.str.len().gt(0).all()
    lmdb = appended[(appended.method == "lmdb") & (appended.implementation == "tutorial")]
    assert bool(lmdb.map_full.iloc[0])
    writers = experiments[experiments.experiment == "write_concurrent"]
    assert len(writers) == len(WRITERS) * 2
    hdf5 = writers[(writers.method == "hdf5") & (writers.writers == 2)]
    assert not bool(hdf5.shared.iloc[0]) and "lock" in hdf5.refusal.iloc[0]
    report = (project / "results/tables/benchmark.md").read_text()
    assert report.index("## The tutorial's claims") < report.index("## Machine and config")
    for name in ("claims_verdicts", "claims_experiments"):
        assert (project / f"results/figures/{name}.png").stat().st_size > 10_000


def test_a_second_run_has_nothing_to_do(finished) -> None:
    project, _ = finished
    run = run_snakemake(project, TINY_CONFIG, "--dry-run")
    assert run.returncode == 0 and "Nothing to be done" in run.output, run.output[-2000:]


def test_provenance_names_code_config_data_software_and_machine(finished) -> None:
    project, _ = finished
    record = json.loads((project / "results/provenance.json").read_text())
    assert set(provenance.FIELDS) <= record.keys()
    assert record["code"]["git_commit"] is None  # the test copy is not a git checkout
    assert len(record["code"]["source_sha256"]) == 64
    assert record["config"]["cutoffs"] == [10, 150]
    assert record["config_sha256"] == provenance.config_sha256(record["config"])
    archive = project / "results/dataset/synthetic/cifar-10-python.tar.gz"
    assert record["dataset"]["md5"] == hashlib.md5(archive.read_bytes()).hexdigest()
    assert record["dataset"]["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert {"numpy", "lmdb C library", "HDF5 C library", "snakemake"} <= record["software"].keys()
    assert {"cpu", "cores", "memory_gib", "kernel", "filesystem"} <= record["machine"].keys()
    assert record["machine"]["filesystem"]["type"] != "unknown"
    assert len(record["stores"]) == len(STORES) * 2
    host, filesystem = socket.gethostname(), record["machine"]["filesystem"]["type"]
    assert record["measured_on"] == [{"host": host, "filesystem": filesystem}]  # no floor's n/a
    stored = {(one["method"], one["implementation"], one["codec"]) for one in record["stores"]}
    assert stored == set(STORES)
    assert host == record["machine"]["host"]
    assert record["times"]["first_result_written"] <= record["times"]["last_result_written"]
    for table in ("timings", "disk_usage", "summary"):
        run_ids = pd.read_csv(project / f"results/tables/{table}.csv").run_id
        assert set(run_ids) == {record["run_id"]}, table
    assert yaml.safe_load((project / "results/config.yaml").read_text()) == record["config"]


def test_html_report_builds_offline_with_every_figure(finished) -> None:
    project, _ = finished
    run = run_snakemake(project, TINY_CONFIG, "results/report.html")
    assert run.returncode == 0, run.output[-3000:]
    html = (project / "results/report.html").read_text()
    for name in NAMES:
        assert f"{name}.png" in html, name
    assert "summary.csv" in html and "provenance.json" in html
    assert "Three Ways of Storing and Accessing" in html  # the workflow description
    # The first page opens with the claims, one per line with its verdict.
    first_claim = html.index("Storing one image: LMDB is fastest")
    assert html.index("claims, checked on this machine") < first_claim
    assert first_claim < html.index("imgbench measures how fast")
    assert "0. The tutorial" in html
    assert "5. Codecs and containers" in html and "9. Provenance" in html


def test_archive_target_writes_a_verifiable_archive_once(finished) -> None:
    project, _ = finished
    run = run_snakemake(project, TINY_CONFIG, "archive")
    assert run.returncode == 0, run.output[-3000:]
    run_id = json.loads((project / "results/provenance.json").read_text())["run_id"]
    archive = project / f"archives/imgbench-{run_id}.tar.gz"
    assert cli.main(["verify-archive", str(archive)]) == 0
    with tarfile.open(archive) as tar:
        names = {member.name.split("/", 1)[1] for member in tar}
    assert {"MANIFEST.sha256", "report.html", "provenance.json", "config.yaml"} <= names
    assert {"tables/summary.csv", "tables/benchmark.md", "figures/durability.svg"} <= names
    before = archive.stat().st_mtime_ns
    again = run_snakemake(project, TINY_CONFIG, "archive")
    assert again.returncode == 0 and "Nothing to be done" in again.output, again.output[-2000:]
    assert archive.stat().st_mtime_ns == before


def test_adding_a_cutoff_reruns_only_its_jobs(finished) -> None:
    project, _ = finished
    run = run_snakemake(project, merged(TINY_CONFIG, cutoffs=[10, 50, 150]), "--dry-run")
    assert run.planned_jobs() == {
        "build_store": len(STORES),
        "read_store": len(STORES),
        "disk_usage": len(STORES),
        "decode_floor": len(FLOORS),
        "delete_discarded": 1,
        "provenance": 1,
        "aggregate": 1,
        "aggregate_loader": 1,  # the loader's tables name the new run; it read the same stores
        "claims": 1,
        "figure": len(NAMES),
        "benchmark_report": 1,
        "all": 1,
    }


def test_dropping_a_method_reruns_only_aggregation(finished) -> None:
    project, _ = finished
    # Without files no store holds PNG: its decode floor is no longer measured either.
    run = run_snakemake(project, merged(TINY_CONFIG, methods=["lmdb", "hdf5"]), "--dry-run")
    assert run.planned_jobs() == {
        "delete_discarded": 1,  # it follows fewer timing jobs; nothing is measured
        "loader_limits": 1,  # but the loader's limits: no png limit any more
        "provenance": 1,
        "aggregate": 1,
        "aggregate_loader": 1,
        "claims": 1,
        "figure": len(NAMES),
        "benchmark_report": 1,
        "all": 1,
    }


@contextmanager
def edited(path: Path, old: str = "", new: str = "\n# an edit\n") -> Iterator[None]:
    """`path` with `old` replaced by `new` (appended when `old` is empty), then restored with its
    mtime, so the later tests of the finished run find it unedited."""
    original, before = path.read_text(), path.stat()
    assert old in original, old
    path.write_text(original.replace(old, new, 1) if old else original + new)
    try:
        yield
    finally:
        path.write_text(original)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


# Every store's timing and du jobs, and every job after the measurements.
MEASURED = {
    "build_store": len(STORES) * 2,
    "read_store": len(STORES) * 2,
    "single_image": len(STORES),
    "disk_usage": len(STORES) * 2,
    "delete_discarded": 1,
    "loader": len(LOADED),  # it reads the rebuilt stores
    "loader_limits": 1,  # it maps the rebuilt raw store
    "append": len(STORES),  # the claims' experiments
    "write_concurrent": len(WRITERS),
    "read_one": len(STORES),
}
# The decode floors' jobs, which run the timing code but touch no store.
DECODE_FLOORS = {"decode_floor": len(FLOORS) * 2}
RECORDED = {
    "provenance": 1,
    "aggregate": 1,
    "claims": 1,
    "aggregate_loader": 1,
    "figure": len(NAMES),
    "benchmark_report": 1,
    "all": 1,
}


@pytest.mark.parametrize(
    ("module", "old", "new", "expected"),
    [
        # Which images a store holds: the pool and every store, nothing that only downloads.
        (
            "src/imgbench/pool.py",
            "",
            "\n# an edit\n",
            {"build_pool": 1, **MEASURED, **DECODE_FLOORS, **RECORDED},
        ),
        # The table schemas: every job that writes or reads a table, not the dataset jobs.
        ("src/imgbench/cells.py", "", "\n# an edit\n", {**MEASURED, **DECODE_FLOORS, **RECORDED}),
        # The host and filesystem columns: the timing jobs (whose stores are then measured again).
        (
            "src/imgbench/machine.py",
            "",
            "\n# an edit\n",
            {**MEASURED, **DECODE_FLOORS, **RECORDED},
        ),
        # The codecs: every store holds one, and the decode floors decode them.
        ("src/imgbench/codecs.py", "", "\n# an edit\n", {**MEASURED, **DECODE_FLOORS, **RECORDED}),
        # One family of figures: its figures only; the run id stays.
        ("src/imgbench/present/variations.py", "", "\n# an edit\n", {"figure": 4, "all": 1}),
        # One caption: that figure, so the HTML report shows the new one.
        (
            "src/imgbench/present/registry.py",
            "as a training data loader does",
            "as a shuffling data loader does",
            {"figure": 1, "all": 1},
        ),
        # Modules no job runs: the config checks, the code tracking itself.
        ("src/imgbench/config_checks.py", "", "\n# an edit\n", {}),
        ("src/imgbench/code_tracking.py", "", "\n# an edit\n", {}),
    ],
    ids=[
        "pool",
        "table-schemas",
        "host-filesystem",
        "codecs",
        "figure-family",
        "caption",
        "unused",
        "tracking",
    ],
)
def test_editing_a_module_reruns_exactly_the_jobs_that_run_it(
    finished, module: str, old: str, new: str, expected: dict[str, int]
) -> None:
    project, _ = finished
    with edited(project / module, old, new):
        run = run_snakemake(project, TINY_CONFIG, "--dry-run")
    assert run.returncode == 0, run.output[-2000:]
    assert run.planned_jobs() == expected, run.output[-3000:]


def test_editing_one_format_module_reruns_only_that_format(finished) -> None:
    project, _ = finished
    with edited(project / "src/imgbench/stores/hdf5.py"):
        run = run_snakemake(project, TINY_CONFIG, "--dry-run")
    assert run.planned_jobs() == {
        "build_store": 4,  # two implementations x two cutoffs
        "read_store": 4,
        "single_image": 2,
        "disk_usage": 4,
        "delete_discarded": 1,
        "loader": 1,  # its fast store
        "append": 2,
        "write_concurrent": 1,
        "read_one": 2,
        **RECORDED,
    }
    assert "results/stores/hdf5/fast/raw/32px/10" in run.output
    assert "results/stores/files/" not in run.output


def test_moving_the_stores_reruns_every_timing_job_and_nothing_upstream(finished) -> None:
    project, _ = finished
    stores = {"folder": "scratch/stores", "node_local": False}
    run = run_snakemake(project, merged(TINY_CONFIG, stores=stores), "--dry-run")
    assert run.planned_jobs() == {
        "build_store": len(STORES) * 2,
        "read_store": len(STORES) * 2,
        "single_image": len(STORES),
        "disk_usage": len(STORES) * 2,
        "delete_discarded": 1,
        "loader": len(LOADED),
        "loader_limits": 1,
        "append": len(STORES),
        "write_concurrent": len(WRITERS),
        "read_one": len(STORES),
        **RECORDED,
    }
    assert "scratch/stores/raw/baseline/raw/32px/150" in run.output


def test_marking_existing_stores_node_local_measures_them_again(finished) -> None:
    """Node-local write jobs delete their repeats at once instead of setting them aside, so the
    writes (and with the new stores everything after them) are measured again."""
    project, _ = finished
    stores = {"folder": "results/stores", "node_local": True}
    run = run_snakemake(project, merged(TINY_CONFIG, stores=stores), "--dry-run")
    assert run.planned_jobs() == {**MEASURED, **RECORDED}


# --- the download path, against a server on 127.0.0.1 ---------------------------------------


def download_config(url: str, md5: str, **dataset: object) -> dict:
    return merged(TINY_CONFIG, dataset={"source": "download", "url": url, "md5": md5, **dataset})


def test_download_rule_fetches_and_verifies(http_server, tiny_archive, tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    config = download_config(f"{http_server.url}/cifar-10-python.tar.gz", tiny_archive[1])
    run = run_snakemake(project, config, POOL)
    assert run.returncode == 0, run.output[-3000:]
    with np.load(project / POOL) as pool:
        np.testing.assert_array_equal(pool["images"], synthetic_images(TINY_TRAIN_IMAGES, 7)[0])


def test_wrong_md5_fails_and_leaves_no_archive(http_server, tiny_archive, tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    wrong = "0123456789abcdef0123456789abcdef"
    run = run_snakemake(
        project, download_config(f"{http_server.url}/cifar-10-python.tar.gz", wrong), POOL
    )
    assert run.returncode != 0
    assert f"has MD5 {tiny_archive[1]}, but {wrong} was expected" in run.output
    download = project / "results/dataset/download"
    assert not download.exists() or list(download.iterdir()) == []  # no archive, no partial file
    assert not (project / POOL).exists()


def test_unreachable_url_names_the_ways_out(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    project = copy_project(tmp_path)
    config = download_config(
        f"http://127.0.0.1:{port}/cifar-10-python.tar.gz", "0" * 32, download_retries=1
    )
    run = run_snakemake(project, config, POOL)
    assert run.returncode != 0
    assert "`dataset.archive`" in run.output and "`dataset.source: synthetic`" in run.output


def test_users_own_archive_is_used_instead_of_downloading(tiny_archive, tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    config = download_config(
        "http://127.0.0.1:9/never-used", tiny_archive[1], archive=str(tiny_archive[0])
    )
    run = run_snakemake(project, config, POOL)
    assert run.returncode == 0, run.output[-3000:]
    assert (project / POOL).is_file()
