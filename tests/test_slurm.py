"""`profiles/slurm` against a real SLURM: a one-node cluster this module starts itself
(`slurm_cluster.LocalSlurm`) runs the small pipeline through Snakemake's SLURM executor, each
job a real `sbatch` job.

The profile is used as a user copies it, with only what their cluster needs added (a
partition, and `squeue` for job status: without accounting there is no `sacct`). The run keeps
its stores node-local, so each store's build, read and du reach SLURM as one group job, beside
the ungrouped jobs (extraction, pool, one-image stores). One cutoff and two formats keep it small:
every job pays a Snakemake start on the node and a status poll.

Skipped, with the reason printed, where SLURM cannot run (not root, or slurm-wlm and munge
missing); `make test` sets IMGBENCH_SLURM=required where it installs them, and then a missing
cluster fails instead.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml
from slurm_cluster import PARTITION, LocalSlurm, missing

from imgbench import machine

from conftest import REPO, TINY_CONFIG, Run, copy_project, exactly, merged, run_snakemake

pytestmark = pytest.mark.pipeline

SMALL = merged(
    TINY_CONFIG,
    cutoffs=[20],
    methods=["lmdb", "hdf5"],
    implementations=["fast"],
    baseline=False,
    repeats=exactly(1),
    single_operations=2,
    reads={"cache": ["warm"], "order": ["sequential"], "readers": [1], "seed": 0},
    loader={"enabled": False},
    # read_one joins its store's group job; the other claims' experiments add jobs of their own.
    claims={name: {"enabled": False} for name in ("append", "concurrent_writers")},
)
TABLES = ("results/tables/timings.csv", "results/tables/disk_usage.csv")
# The jobs that time or measure a store: the profile gives them the whole node.
TIMING_RULES = {"build_store", "read_store", "single_image", "disk_usage", "read_one"}
LOCAL_RULES = {"synthesize_cifar", "provenance", "aggregate"}
WORKFLOW_RULES = {
    rule
    for path in (REPO / "workflow/rules").glob("*.smk")
    for rule in re.findall(r"^rule (\w+):", path.read_text(), re.M)
}


@dataclass
class SlurmJob:
    """One job as SLURM recorded it."""

    id: str
    comment: str  # the executor's: rule_<rule>[_wildcards_<...>], or the group's
    state: str
    details: str  # `scontrol show job`

    @property
    def rules(self) -> list[str]:
        """The Snakemake rules this job ran, from the executor's comment: `rule_<rule>` with
        `_wildcards_<values>` for a job, `rule_<group id>_<rules sorted, joined by _>` for a
        group job."""
        named = re.sub(r"_wildcards_.*$", "", self.comment.removeprefix("rule_"))
        named = re.sub(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}_", "", named)
        found = []
        while named:
            rule = max((rule for rule in WORKFLOW_RULES if named.startswith(rule)), key=len)
            found.append(rule)
            named = named.removeprefix(rule).removeprefix("_")
        return found


def slurm_jobs(cluster: LocalSlurm) -> list[SlurmJob]:
    """Every job the cluster still remembers (`MinJobAge` keeps finished ones)."""
    environment = cluster.environment()
    listed = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i|%k|%T"],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    ).stdout
    jobs = []
    for line in listed.splitlines():
        job_id, comment, state = line.strip().split("|")
        details = subprocess.run(
            ["scontrol", "show", "job", job_id],
            capture_output=True,
            text=True,
            check=True,
            env=environment,
        ).stdout
        jobs.append(SlurmJob(job_id, comment, state, details))
    return jobs


def user_profile(project: Path) -> str:
    """`profiles/slurm` as a user's copy of it, adding only the partition and the status
    command; the profile's folder name, relative to `project`."""
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    profile["default-resources"]["slurm_partition"] = PARTITION
    profile["slurm-status-command"] = "squeue"
    (project / "test-slurm").mkdir()
    (project / "test-slurm/config.yaml").write_text(yaml.safe_dump(profile))
    return "test-slurm"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlurm]:
    why = missing()
    if why:
        if os.environ.get("IMGBENCH_SLURM") == "required":
            pytest.fail(f"IMGBENCH_SLURM=required, but no local SLURM can start: {why}")
        pytest.skip(why)
    with LocalSlurm(tmp_path_factory.mktemp("slurm")) as running:
        yield running


@dataclass
class ClusterRun:
    project: Path
    config: dict
    scratch: Path
    run: Run
    jobs: list[SlurmJob]


@pytest.fixture(scope="module")
def cluster_run(cluster: LocalSlurm, tmp_path_factory: pytest.TempPathFactory) -> ClusterRun:
    """The small pipeline through real sbatch jobs, its stores node-local."""
    root = tmp_path_factory.mktemp("on-slurm")
    project = copy_project(root / "project")
    scratch = root / "node-local-scratch"
    config = merged(SMALL, stores={"folder": str(scratch), "node_local": True})
    profile = user_profile(project)
    run = run_snakemake(
        project,
        config,
        "--profile",
        profile,
        *TABLES,
        environment=cluster.environment(),
        timeout=900,
    )
    return ClusterRun(project, config, scratch, run, slurm_jobs(cluster))


def test_the_pipeline_completes_through_sbatch_and_measures_what_a_local_run_does(
    cluster_run: ClusterRun, tmp_path: Path
) -> None:
    run = cluster_run.run
    assert run.returncode == 0, run.output[-4000:]
    assert "has been submitted with SLURM jobid" in run.output
    assert cluster_run.jobs and {job.state for job in cluster_run.jobs} == {"COMPLETED"}

    local = copy_project(tmp_path / "local")
    assert run_snakemake(local, SMALL, *TABLES).returncode == 0

    def table(project: Path, name: str) -> pd.DataFrame:
        return pd.read_csv(project / f"results/tables/{name}.csv")

    # The executor changes where jobs run, not what they write: the same rows, and stores
    # with the same checksums.
    keys = ["method", "implementation", "codec", "image_size", "n_images", "sha256"]
    on_slurm, here = table(cluster_run.project, "disk_usage"), table(local, "disk_usage")
    pd.testing.assert_frame_equal(on_slurm[keys], here[keys])
    cells = ["method", "implementation", "n_images", "operation", "phase", "cache", "order"]
    on_slurm, here = table(cluster_run.project, "timings"), table(local, "timings")
    assert list(on_slurm.columns) == list(here.columns)
    assert sorted(map(tuple, on_slurm[cells].astype(str).values)) == sorted(
        map(tuple, here[cells].astype(str).values)
    )


def test_local_rules_ran_here_and_every_other_job_went_through_sbatch(
    cluster_run: ClusterRun,
) -> None:
    submitted = [rule for job in cluster_run.jobs for rule in job.rules]
    assert not LOCAL_RULES & set(submitted), submitted
    for rule in LOCAL_RULES:
        assert re.search(rf"^local(rule|checkpoint) {rule}:", cluster_run.run.output, re.M), rule
    assert {"extract_cifar", "build_pool", *TIMING_RULES} <= set(submitted), submitted


def test_timing_jobs_had_the_whole_node(cluster_run: ClusterRun) -> None:
    """`--exclusive` from the profile's slurm_extra reached SLURM for every timing job, and
    only for those."""
    for job in cluster_run.jobs:
        exclusive = "OverSubscribe=NO" in job.details
        assert exclusive == bool(TIMING_RULES & set(job.rules)), (job.rules, job.details)


def test_each_node_local_store_was_one_group_job_and_is_gone(cluster_run: ClusterRun) -> None:
    stores = len(SMALL["cutoffs"]) * len(SMALL["methods"])
    groups = [job for job in cluster_run.jobs if "build_store" in job.rules]
    assert len(groups) == stores
    for job in groups:
        assert sorted(job.rules) == ["build_store", "disk_usage", "read_one", "read_store"]
    assert not [path for path in cluster_run.scratch.rglob("*") if path.name.isdigit()]
    assert not (cluster_run.project / "results/stores").exists()
    disk = pd.read_csv(cluster_run.project / "results/tables/disk_usage.csv")
    assert len(disk) == stores and (disk.kib_allocated > 0).all()
    timings = pd.read_csv(cluster_run.project / "results/tables/timings.csv")
    assert len(timings.query("operation == 'read_many'").groupby(["method", "n_images"])) == stores
    assert set(timings.filesystem) == {machine.filesystem(cluster_run.scratch)["type"]}

    # The stores are gone, so reading them another way rebuilds them first; so does moving
    # them to another node-local folder, whose numbers the tables would otherwise mix.
    project, config = cluster_run.project, cluster_run.config
    for changed in (
        merged(config, reads=config["reads"] | {"seed": 1}),
        merged(config, stores={"folder": str(cluster_run.scratch) + "-moved", "node_local": True}),
    ):
        planned = run_snakemake(project, changed, "--dry-run", *TABLES).planned_jobs()
        assert planned["build_store"] == stores == planned["read_store"], planned


def test_a_failing_job_is_reported_failed_with_its_slurm_log(
    cluster: LocalSlurm, tmp_path: Path
) -> None:
    project = copy_project(tmp_path / "project")
    # A genuine-looking archive whose MD5 matches but whose member is not CIFAR-10: fetching
    # (local) succeeds, extraction (a SLURM job) fails.
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(REPO / "README.md", arcname="cifar-10-batches-py/unexpected")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    config = merged(SMALL, dataset={"source": "download", "archive": str(archive), "md5": md5})
    run = run_snakemake(
        project,
        config,
        "--profile",
        user_profile(project),
        "results/dataset/cifar-10-batches-py",
        environment=cluster.environment(),
    )
    assert run.returncode != 0
    assert "Error in rule extract_cifar" in run.output, run.output[-3000:]
    logs = re.findall(r"(\S+/\.snakemake/slurm_logs/rule_extract_cifar/\d+\.log)", run.output)
    assert logs, run.output[-3000:]
    assert "unexpected member" in Path(logs[0]).read_text()
    assert not (project / "results/dataset/cifar-10-batches-py").exists()
