"""Faults a long real run meets: a kill mid-build, a full disk, a second run, many readers.

Each goes through the real `snakemake` (or, for readers, real forked processes), as a user meets it.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from imgbench import open_store
from imgbench.codecs import Codec
from imgbench.parallel import expected_images
from imgbench.stores import get_store
from imgbench.synthetic import synthetic_images

from conftest import (
    SNAKEMAKE,
    TINY_CONFIG,
    TINY_TRAIN_IMAGES,
    copy_project,
    exactly,
    merged,
    run_snakemake,
)

pytestmark = pytest.mark.pipeline
# One slow store (PNG files the tutorial's way, a few seconds per build), measured as little as
# possible.
SLOW_CONFIG = merged(
    TINY_CONFIG,
    cutoffs=[3000],
    methods=["files"],
    implementations=["tutorial"],
    baseline=False,
    repeats=exactly(3),
    single_operations=1,
    reads={"cache": ["warm"], "order": ["sequential"], "readers": [1], "seed": 0},
)
STORE = "results/stores/files/tutorial/png/32px/3000"
TABLES = "results/tables/summary.csv"  # a whole run but the figures, which these tests never read


def start_snakemake(project: Path, config: dict, **popen: object) -> subprocess.Popen:
    """A real run in the background, in its own process group so it can be killed whole."""
    (project / "overlay.yaml").write_text(yaml.safe_dump(config))
    command = [str(SNAKEMAKE), "--configfile", "overlay.yaml", "--cores", "2", TABLES]
    return subprocess.Popen(
        command,
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project / "src")},  # the copy's library
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        **popen,
    )


def wait_for(condition, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def scratch_folders(project: Path) -> list[Path]:
    return list((project / STORE).parent.glob(".3000.*"))


def test_a_store_killed_mid_build_is_rebuilt_on_rerun(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    run = start_snakemake(project, SLOW_CONFIG)
    try:
        # The build job writes its repeats into a scratch folder; kill while one is half written.
        wait_for(lambda: any(f.glob("repeat-0/*.png") for f in scratch_folders(project)), "build")
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.communicate()
    assert not (project / STORE).exists() or not (project / STORE / "labels.csv").exists()

    unlock = run_snakemake(project, SLOW_CONFIG, "--unlock")  # the kill left Snakemake's lock
    assert unlock.returncode == 0, unlock.output[-2000:]
    rerun = run_snakemake(project, SLOW_CONFIG, TABLES)
    assert rerun.returncode == 0, rerun.output[-3000:]
    assert scratch_folders(project) == []  # the killed job's half-written repeats are gone...
    discarded = project / "results/stores/.discarded"  # ...set aside, to be deleted after the run
    set_aside = [path.name for path in discarded.iterdir() if path.name.startswith(".3000.")]
    assert len(set_aside) == 2  # the killed job's scratch and the rerun's unkept repeats
    pool, labels = synthetic_images(TINY_TRAIN_IMAGES, seed=7)
    with open_store(project / STORE) as reader:
        images, read_labels = reader.read_many(np.arange(3000))
    np.testing.assert_array_equal(images, pool[np.arange(3000) % TINY_TRAIN_IMAGES])
    np.testing.assert_array_equal(read_labels, labels[np.arange(3000) % TINY_TRAIN_IMAGES])


def test_a_full_disk_fails_clearly_and_leaves_no_store(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    config = merged(SLOW_CONFIG, methods=["hdf5"], implementations=["fast"], cutoffs=[10, 3000])
    limit = 4 << 20  # bytes per file: the pool and small stores fit, 3,000 images (9 MB) do not

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    run = start_snakemake(project, config, preexec_fn=limit_file_size)
    output, _ = run.communicate(timeout=600)
    assert run.returncode != 0
    assert "file-size limit" in output and "free space" in output, output[-3000:]
    stores = project / "results/stores/hdf5/fast/raw/32px"
    left = [path.name for path in stores.iterdir()] if stores.exists() else []
    assert not [name for name in left if "3000" in name], left  # no partial store, no scratch
    assert not (project / "results/measurements/hdf5/fast/raw/32px/3000/write_many.csv").exists()


def test_a_second_run_in_the_same_folder_is_refused(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    first = start_snakemake(project, SLOW_CONFIG)
    try:
        wait_for(lambda: any((project / ".snakemake/locks").glob("*")), "the first run's lock")
        second = run_snakemake(project, SLOW_CONFIG, TABLES)
        assert second.returncode != 0
        assert "Directory cannot be locked" in second.output, second.output[-2000:]
    finally:
        output, _ = first.communicate(timeout=600)
    assert first.returncode == 0, output[-3000:]
    with open_store(project / STORE) as reader:
        assert len(reader) == 3000


def _read_slice(args: tuple[str, str, str, str, int, int]) -> tuple[np.ndarray, np.ndarray]:
    method, implementation, codec, path, start, stop = args
    store = get_store(method, implementation, Codec(codec))
    return store.read_many(Path(path), np.arange(start, stop))


@pytest.mark.parametrize(
    ("method", "implementation", "codec"),
    [
        ("lmdb", "tutorial", "raw"),
        ("lmdb", "fast", "raw"),
        ("lmdb", "fast", "jpeg"),
        ("hdf5", "tutorial", "raw"),
        ("hdf5", "fast", "raw"),
        ("files", "fast", "qoi"),
    ],
)
def test_many_processes_read_one_store_at_once(
    method, implementation, codec, tmp_path: Path
) -> None:
    images, labels = synthetic_images(400, seed=5)
    store = get_store(method, implementation, Codec(codec))
    store.write_many(tmp_path / "store", images, labels)
    with store.open(tmp_path / "store") as parents_reader:  # used, then closed before the fork
        parents_reader.read_many(np.arange(10))
    path = str(tmp_path / "store")
    slices = [(method, implementation, codec, path, i, i + 100) for i in range(0, 400, 100)]
    with multiprocessing.get_context("fork").Pool(4) as pool:  # each opens the store itself
        parts = pool.map(_read_slice, slices)
    expected = expected_images(store.codec, images)
    np.testing.assert_array_equal(np.concatenate([part[0] for part in parts]), expected)
    np.testing.assert_array_equal(np.concatenate([part[1] for part in parts]), labels)
