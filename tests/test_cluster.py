"""Cluster execution through Snakemake's executor plugins: a real submit/poll/finish cycle on this
machine (`profiles/local-cluster`, cluster-generic executor) and a dry run of `profiles/slurm`."""

from __future__ import annotations

import hashlib
import re
import tarfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from imgbench import machine

from conftest import REPO, TINY_CONFIG, copy_project, merged, run_snakemake

pytestmark = pytest.mark.pipeline
# Rules that run on the submitting machine (localrules), never through the executor.
LOCAL_RULES = {"synthesize_cifar", "provenance", "aggregate", "figure", "benchmark_report"}
SMALL = merged(
    TINY_CONFIG,
    cutoffs=[10, 40],
    methods=["lmdb", "hdf5"],
    implementations=["fast"],
    baseline=False,
    reads={"cache": ["warm", "cold"], "order": ["sequential"], "readers": [1, 2], "seed": 0},
)


# Every stage, with one figure job of the sixteen: they are all local rules alike.
TARGETS = ("results/tables/benchmark.md", "results/figures/durability.png")


def test_the_pipeline_runs_through_a_submit_based_executor(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "cluster")
    run = run_snakemake(project, SMALL, "--profile", "profiles/local-cluster", *TARGETS)
    assert run.returncode == 0, run.output[-4000:]
    assert "Submitted job" in run.output and "external jobid" in run.output

    local = copy_project(tmp_path / "local")
    assert run_snakemake(local, SMALL, *TARGETS).returncode == 0

    def tables(project: Path) -> dict[str, pd.DataFrame]:
        names = ("timings", "disk_usage", "summary")
        return {name: pd.read_csv(project / f"results/tables/{name}.csv") for name in names}

    on_cluster, here = tables(project), tables(local)
    for name, frame in on_cluster.items():
        assert list(frame.columns) == list(here[name].columns), name
        assert len(frame) == len(here[name]), name
    # Stores are deterministic: the executor changes where jobs run, not what they write.
    keys = ["method", "implementation", "codec", "n_images", "sha256"]
    pd.testing.assert_frame_equal(on_cluster["disk_usage"][keys], here["disk_usage"][keys])
    figures = sorted(path.name for path in (project / "results/figures").iterdir())
    assert figures == sorted(path.name for path in (local / "results/figures").iterdir())

    # Every submitted job ran in its own detached process and finished with exit code 0; the
    # local rules were never submitted.
    exits = list((project / ".snakemake/local-cluster").glob("*.exit"))
    assert exits and all(path.read_text().strip() == "0" for path in exits)
    outputs = "".join(path.read_text() for path in exits[0].parent.glob("*.out"))
    for rule in ("build_store", "read_store", "single_image", "disk_usage", "build_pool"):
        assert f"rule {rule}:" in outputs or f"localrule {rule}:" in outputs, rule
    for rule in LOCAL_RULES:
        assert f"rule {rule}:" not in outputs, rule


def test_node_local_stores_are_built_read_and_measured_in_one_job_on_one_node(
    tmp_path: Path,
) -> None:
    """Stores on a node's own disk: each store's build, read and du jobs are submitted as one
    group job, the store is deleted inside it, and the submitting Snakemake never looks for it
    (it would fail with missing output if it did)."""
    project = copy_project(tmp_path / "project")
    scratch = tmp_path / "node-local-scratch"
    config = merged(SMALL, stores={"folder": str(scratch), "node_local": True})
    tables = ["results/tables/timings.csv", "results/tables/disk_usage.csv"]  # no figures needed
    run = run_snakemake(project, config, "--profile", "profiles/local-cluster", *tables)
    assert run.returncode == 0, run.output[-4000:]

    outputs = [path.read_text() for path in (project / ".snakemake/local-cluster").glob("*.out")]
    stores = len(SMALL["cutoffs"]) * len(SMALL["methods"])
    groups = [text for text in outputs if "rule build_store:" in text]
    assert len(groups) == stores
    for text in groups:
        # One job after the other inside the group: `timing_slot` keeps them apart there too.
        events = re.findall(
            r"^(?:local)?rule (\w+):|^Finished jobid: \d+ \(Rule: (\w+)\)", text, re.M
        )
        started = [rule for rule, _ in events[0::2]]
        finished = [rule for _, rule in events[1::2]]
        assert started == finished, events  # each job finished before the next one started
        # A store of the largest cutoff is also loaded, and read one image at a time by a fresh
        # process (the claims' read_one), in its group.
        largest = ["loader", "read_one"] if "rule loader:" in text else []
        expected = sorted(["disk_usage", *largest, "read_store"])
        assert started[0] == "build_store" and sorted(started[1:]) == expected, events
        assert "Removing temporary output" in text
    assert not any("rule read_store:" in text for text in outputs if text not in groups)
    assert sum("rule loader:" in text for text in groups) == len(SMALL["methods"])
    assert sum("rule read_one:" in text for text in groups) == len(SMALL["methods"])
    assert not (project / "results/stores").exists()
    assert not [path for path in scratch.rglob("*") if path.is_dir() and path.name.isdigit()]

    timings = pd.read_csv(project / "results/tables/timings.csv")
    assert set(timings.filesystem) == {machine.filesystem(scratch)["type"]}
    read = timings.query("operation == 'read_many'")
    assert len(read.groupby(["method", "implementation", "codec", "n_images"])) == stores
    assert set(read.codec) == {"raw"}
    disk = pd.read_csv(project / "results/tables/disk_usage.csv")
    assert len(disk) == stores and (disk.kib_allocated > 0).all()

    # The stores are gone, so reading them another way rebuilds them first.
    reads = SMALL["reads"] | {"seed": 1}
    again = run_snakemake(project, merged(config, reads=reads), "--dry-run")
    assert again.planned_jobs()["build_store"] == stores == again.planned_jobs()["read_store"]
    # So does moving them to another node-local folder: the tables would otherwise keep
    # numbers measured in the old one.
    moved = merged(config, stores={"folder": str(tmp_path / "other-scratch"), "node_local": True})
    again = run_snakemake(project, moved, "--dry-run")
    assert again.planned_jobs()["build_store"] == stores == again.planned_jobs()["disk_usage"]


def test_a_failing_submitted_job_is_reported_as_failed(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    # A genuine-looking archive whose MD5 matches but whose member is not CIFAR-10: fetching
    # (local) succeeds, extraction (a submitted job) fails.
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(REPO / "README.md", arcname="cifar-10-batches-py/unexpected")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    config = merged(SMALL, dataset={"source": "download", "archive": str(archive), "md5": md5})
    run = run_snakemake(project, config, "--profile", "profiles/local-cluster")
    assert run.returncode != 0
    assert "Error in rule extract_cifar" in run.output, run.output[-3000:]
    assert "unexpected member" in run.output
    exits = list((project / ".snakemake/local-cluster").glob("*.exit"))
    assert any(path.read_text().strip() != "0" for path in exits)
    assert not (project / "results/dataset/cifar-10-batches-py").exists()


def test_the_slurm_profile_plans_the_run_with_node_exclusive_timing_jobs(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    profile["default-resources"] |= {"slurm_account": "test", "slurm_partition": "test"}
    (project / "my-slurm").mkdir()
    (project / "my-slurm/config.yaml").write_text(yaml.safe_dump(profile))
    run = run_snakemake(project, TINY_CONFIG, "--profile", "my-slurm", "--dry-run")
    assert run.returncode == 0, run.output[-3000:]
    blocks = run.output.split("\n\n")
    build = next(block for block in blocks if "rule build_store:" in block and "n=150" in block)
    assert "slurm_extra=--exclusive" in build and "timing_slot=1" in build
    assert "mem_mb=" in build and "runtime=" in build and "slurm_account=test" in build
    assert run.planned_jobs()["build_store"] == 14


def test_the_slurm_profile_asks_the_same_of_every_job_in_a_store_group() -> None:
    """Snakemake refuses a group job whose members ask for different string resources, and a
    node-local store's build, read and du jobs form one group."""
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    group = [profile["set-resources"][rule] for rule in ("build_store", "read_store", "disk_usage")]
    assert group[0] == group[1] == group[2]
