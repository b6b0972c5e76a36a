"""Shared fixtures: small image sets, a local HTTP server on 127.0.0.1 and a Snakemake runner."""

from __future__ import annotations

import collections
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from imgbench.synthetic import synthetic_images, write_synthetic_archive

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
TINY_TRAIN_IMAGES = 100


def exactly(repeats: int) -> dict[str, float]:
    """The config's `repeats` for exactly `repeats` repeats of every cell."""
    return {"min": repeats, "max": repeats, "relative_half_width": 0.05, "cell_budget_seconds": 1}


TINY_CONFIG = {
    "dataset": {"source": "synthetic", "synthetic_images": TINY_TRAIN_IMAGES, "seed": 7},
    "cutoffs": [10, 150],  # 150 > 100 training images: the pool repeats, as in the tutorial
    "methods": ["files", "lmdb", "hdf5"],
    "implementations": ["tutorial", "fast"],
    "baseline": True,  # the raw baseline and the png decode floor
    # Snakemake merges this with config/config.yaml key by key: the codecs it names for formats
    # not in `methods` are there but unused.
    "codecs": {"files": ["png"], "lmdb": ["raw"], "hdf5": ["raw"]},
    "jpeg_quality": 90,
    "store_options": {},
    "repeats": exactly(2),
    "single_operations": 5,
    "reads": {
        "cache": ["warm", "cold"],
        "order": ["sequential", "random", "batched"],
        "readers": [1, 2],
        "batch_size": 64,  # 150 images: batches of 64, 64 and 22
    },
    # The loader over the 150-image stores: two samplers, without and with workers.
    "loader": {"samplers": ["shuffle", "stream"], "workers": [0, 2], "batch_size": 64},
    # The claims' experiments at the largest cutoff: one and two writers.
    "claims": {"concurrent_writers": {"writers": [1, 2]}},
}

# A config whose one-image job (its table: LONG_JOB_TABLE) is long: it repeats until its cell
# budget, long enough for one progress line, is spent.
LONG_JOB_SECONDS = 11
LONG = {
    "dataset": {"source": "synthetic", "synthetic_images": 100, "seed": 7},
    "cutoffs": [10],
    "methods": ["lmdb"],
    "implementations": ["fast"],
    "baseline": False,
    "codecs": {"lmdb": ["raw"]},
    # Repeats until the budget is spent: an interval this narrow is never reached.
    "repeats": {
        "min": 1,
        "max": 100_000,
        "relative_half_width": 1e-6,
        "cell_budget_seconds": LONG_JOB_SECONDS,
    },
    "single_operations": 100,
}
LONG_JOB_TABLE = "results/measurements/lmdb/fast/raw/32px/single.csv"


# Seconds the slowest test files took (summed `--durations=0`, two workers, 2-core VM, commit
# 87126fa). pytest-xdist hands whole files to whichever worker is free, in collection order;
# longest first, both workers finish together (by pipeline-test count, test_workflow's 139 s of
# dry runs started last and the suite took 531 s; longest first, 452 s by simulation). Stale
# figures only cost balance.
SLOW_FILES = {
    "test_pipeline.py": 185,
    "test_slurm.py": 169,
    "test_workflow.py": 139,
    "test_image_sizes.py": 128,
    "test_hardening.py": 50,
    "test_cluster.py": 47,
    "test_new_format.py": 45,
    "test_figures.py": 38,
    "test_progress.py": 34,
    "test_concurrent_writes.py": 22,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest files first, then those with the most pipeline tests (a new file that runs
    the pipeline), so no long file starts last and keeps one worker busy alone at the end. The
    sort is stable: each file's tests stay together and in their order."""
    weight = collections.Counter(
        item.path for item in items if item.get_closest_marker("pipeline") is not None
    )
    items.sort(key=lambda item: (-SLOW_FILES.get(item.path.name, 0), -weight[item.path]))


@pytest.fixture
def images() -> tuple[np.ndarray, np.ndarray]:
    """Forty photo-like images and labels: enough for runs, gaps and repeats in reads."""
    return synthetic_images(40, seed=3)


@pytest.fixture(scope="session")
def tiny_archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A small CIFAR-format archive and its MD5."""
    path = tmp_path_factory.mktemp("archive") / "cifar-10-python.tar.gz"
    md5 = write_synthetic_archive(path, TINY_TRAIN_IMAGES, seed=7)
    return path, md5


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder, failing the first `failures` requests with 503 to exercise retries."""

    failures = 0
    requests = 0

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        type(self).requests += 1
        if type(self).requests <= type(self).failures:
            self.send_error(503, "try again")
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Keep test output clean."""


@dataclass
class LocalServer:
    url: str
    handler: type[_Handler]


@pytest.fixture
def http_server(tiny_archive: tuple[Path, str]) -> Iterator[LocalServer]:
    """An HTTP server on 127.0.0.1 serving the tiny archive's folder; never any other address."""
    handler = type("Handler", (_Handler,), {"failures": 0, "requests": 0})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(tiny_archive[0].parent))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LocalServer(f"http://127.0.0.1:{server.server_port}", handler)
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Run:
    returncode: int
    output: str

    def planned_jobs(self) -> dict[str, int]:
        """Jobs per rule from Snakemake's 'Job stats' table ({} when there is nothing to do)."""
        table = re.search(r"Job stats:\n.*?\n-+\s+-+\n(.*?)\ntotal", self.output, re.S)
        if table is None:
            return {}
        return {rule: int(count) for rule, count in re.findall(r"^(\S+)\s+(\d+)$", table[1], re.M)}


def copy_project(destination: Path) -> Path:
    """A copy of the workflow and library sources, run as a user runs it from a checkout, so a
    test can edit them without touching the repository."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for folder in ("workflow", "config", "profiles", "src"):
        shutil.copytree(REPO / folder, destination / folder, ignore=ignore)
    shutil.copy2(REPO / "Snakefile", destination / "Snakefile")
    return destination


def run_snakemake(
    project: Path,
    config: dict,
    *arguments: str,
    timeout: int = 600,
    environment: dict[str, str] | None = None,
) -> Run:
    """Run the real `snakemake` CLI in `project` with `config` as an overlay file. The workflow
    and its jobs import `imgbench` from the copy's `src/`, as a checkout installed in editable
    mode imports its own, so a test can edit the copy's library. `environment` replaces this
    process's environment (a local SLURM's `SLURM_CONF`, say)."""
    overlay = project / "overlay.yaml"
    overlay.write_text(yaml.safe_dump(config))
    command = [str(SNAKEMAKE), "--configfile", str(overlay), "--cores", "2", *arguments]
    environment = {
        **(os.environ if environment is None else environment),
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(project / "src"),
    }
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=environment, cwd=project
    )
    return Run(result.returncode, result.stdout + result.stderr)


def merged(base: dict, **changes: object) -> dict:
    """`base` with top-level keys replaced and `dataset` keys merged."""
    config = {**base, **{key: value for key, value in changes.items() if key != "dataset"}}
    config["dataset"] = {**base.get("dataset", {}), **changes.get("dataset", {})}  # type: ignore[dict-item]
    return config
