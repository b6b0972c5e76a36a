"""Cluster execution through Snakemake's executor plugins: a real submit/poll/finish cycle on this
machine (`profiles/local-cluster`, cluster-generic executor) and what `profiles/slurm` plans
(the real SLURM runs are in test_slurm.py)."""

from __future__ import annotations

import hashlib
import re
import tarfile
from pathlib import Path

import pytest
import yaml

from conftest import LONG, LONG_JOB_TABLE, REPO, TINY_CONFIG, copy_project, merged, run_snakemake

pytestmark = pytest.mark.pipeline
SMALL = merged(
    TINY_CONFIG,
    cutoffs=[10, 40],
    methods=["lmdb", "hdf5"],
    implementations=["fast"],
    baseline=False,
    reads={"cache": ["warm", "cold"], "order": ["sequential"], "readers": [1, 2], "seed": 0},
)


def test_jobs_run_through_the_local_cluster_profile(tmp_path: Path) -> None:
    """`profiles/local-cluster`, the example for schedulers without a plugin: its submit,
    status and cancel scripts run each job in a detached process of its own. (The whole small
    pipeline, node-local group jobs included, runs against a real SLURM in test_slurm.py.) The
    one-image job is made long: its progress lines land in its job's output, as a scheduler's
    job log, not on the terminal."""
    project = copy_project(tmp_path)
    config = merged(SMALL, repeats=LONG["repeats"], single_operations=LONG["single_operations"])
    run = run_snakemake(project, config, "--profile", "profiles/local-cluster", LONG_JOB_TABLE)
    assert run.returncode == 0, run.output[-4000:]
    assert "Submitted job" in run.output and "external jobid" in run.output
    assert (project / LONG_JOB_TABLE).stat().st_size > 0
    exits = list((project / ".snakemake/local-cluster").glob("*.exit"))
    assert len(exits) == 3 and all(path.read_text().strip() == "0" for path in exits)
    outputs = "".join(path.read_text() for path in exits[0].parent.glob("*.out"))
    assert "rule extract_cifar:" in outputs and "rule build_pool:" in outputs
    assert "rule synthesize_cifar:" not in outputs  # a local rule
    assert "imgbench: single_image lmdb/fast/raw/32px: repeat " in outputs
    assert "imgbench: single_image" not in run.output


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


def test_the_slurm_profile_gives_every_timing_job_the_whole_node() -> None:
    """Every rule holding `timing_slot` asks for `--exclusive`, the same slurm_extra alike:
    Snakemake refuses a group job whose members ask for different string resources, and a
    node-local store's build, read, du, loader and read_one jobs form one group."""
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    rules = "".join(path.read_text() for path in (REPO / "workflow/rules").glob("*.smk"))
    timing = {
        name
        for name, body in re.findall(r"^rule (\w+):\n(.*?)(?=^\S)", rules, re.M | re.S)
        if "timing_slot=1" in body
    }
    assert {"build_store", "read_store", "disk_usage", "read_one", "loader"} <= timing
    asked = {rule: extra["slurm_extra"] for rule, extra in profile["set-resources"].items()}
    assert asked == dict.fromkeys(timing, "'--exclusive'")
