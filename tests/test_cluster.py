"""Cluster execution through Snakemake's executor plugins: a real submit/poll/finish cycle on this
machine (`profiles/local-cluster`, cluster-generic executor) and a dry run of `profiles/slurm`."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, TINY_CONFIG, copy_project, merged, run_snakemake

pytestmark = pytest.mark.pipeline
# Rules that run on the submitting machine (localrules), never through the executor.
LOCAL_RULES = {"synthesize_archive", "provenance", "aggregate", "figures", "benchmark_report"}
SMALL = merged(
    TINY_CONFIG,
    cutoffs=[10, 40],
    methods=["lmdb", "hdf5"],
    implementations=["fast"],
    baseline=False,
    reads={"cache": ["warm", "cold"], "order": ["sequential"], "readers": [1, 2], "seed": 0},
)


def test_the_pipeline_runs_through_a_submit_based_executor(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "cluster")
    run = run_snakemake(project, SMALL, "--profile", "profiles/local-cluster")
    assert run.returncode == 0, run.output[-4000:]
    assert "Submitted job" in run.output and "external jobid" in run.output

    local = copy_project(tmp_path / "local")
    assert run_snakemake(local, SMALL).returncode == 0

    def tables(project: Path) -> dict[str, pd.DataFrame]:
        names = ("timings", "disk_usage", "summary")
        return {name: pd.read_csv(project / f"results/tables/{name}.csv") for name in names}

    on_cluster, here = tables(project), tables(local)
    for name, frame in on_cluster.items():
        assert list(frame.columns) == list(here[name].columns), name
        assert len(frame) == len(here[name]), name
    # Stores are deterministic: the executor changes where jobs run, not what they write.
    keys = ["method", "implementation", "n_images", "sha256"]
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
    assert "Error in rule extract_archive" in run.output, run.output[-3000:]
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
