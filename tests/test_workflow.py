"""The workflow itself: lint-clean, formatted, and refusing bad config before any job runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SNAKEMAKE, TINY_CONFIG, copy_project, merged, run_snakemake


def tool(name: str) -> str:
    return str(SNAKEMAKE.with_name(name))


def test_snakemake_lint_is_clean() -> None:
    result = subprocess.run(
        [str(SNAKEMAKE), "--lint"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakefmt_is_clean() -> None:
    result = subprocess.run(
        [tool("snakefmt"), "--check", "Snakefile", "workflow"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean() -> None:
    for command in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run([tool("ruff"), *command], cwd=REPO, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            {"methods": ["files", "tiff"]},
            "unknown storage format(s) 'tiff'; known: arrow, files, hdf5, lance",
        ),
        ({"methods": ["png", "lmdb"]}, "unknown storage format(s) 'png'"),  # the files container
        ({"methods": ["raw"]}, "'raw' is measured by `baseline: true`"),
        ({"implementations": ["fast", "slow"]}, "names 'slow', which no format in `methods` has"),
        ({"methods": []}, "methods"),
        ({"implementations": []}, "implementations"),
        ({"codecs": {"hdf5": ["png"]}}, "`codecs.hdf5` names png, which hdf5 cannot hold"),
        ({"codecs": {"gif": ["png"]}}, "name unknown storage format(s) 'gif'"),
        ({"codecs": {"files": ["webp"]}}, "webp"),
        ({"codecs": {"files": []}}, "codecs"),
        (
            {"implementations": ["tutorial"], "codecs": {"files": ["qoi"]}},
            "no implementation in `implementations` (tutorial) of files holds qoi images",
        ),
        ({"jpeg_quality": 0}, "jpeg_quality"),
        ({"jpeg_quality": 101}, "jpeg_quality"),
        ({"store_options": {"hdf5": {"chunks": 4}}}, "`store_options.hdf5` has an option"),
        ({"cutoffs": []}, "cutoffs"),
        ({"cutoffs": [0, 10]}, "cutoffs"),
        ({"cutoffs": [-5]}, "cutoffs"),
        ({"cutoffs": [10, 2.5]}, "cutoffs"),
        ({"cutoffs": [10, "many"]}, "many"),
        ({"repeats": 0}, "repeats"),
        ({"repeats": {"min": 5, "max": 2}}, "`repeats.min` (5) is above `repeats.max` (2)"),
        ({"repeats": {"relative_half_width": 0}}, "relative_half_width"),
        ({"repeats": {"relative_half_width": 1.5}}, "relative_half_width"),
        ({"repeats": {"cell_budget_seconds": 0}}, "cell_budget_seconds"),
        ({"colour": "blue"}, "colour"),
        ({"dataset": {"colour": "blue"}}, "colour"),
        ({"dataset": {"md5": "not-a-checksum"}}, "not-a-checksum"),
        ({"dataset": {"source": "ftp"}}, "ftp"),
        ({"repeat_pool": False}, "repeat_pool"),  # cutoff 150 > the 100 images of the pool
        ({"stores": {"folder": ""}}, "folder"),
        ({"stores": {"folder": "Snakefile/stores"}}, "Snakefile is a file, not a folder"),
        ({"stores": {"node_local": "yes"}}, "node_local"),
        (
            {"reads": {"variations_for": ["fast", "fats"]}},
            "`reads.variations_for` names 'fats', which no format implements",
        ),
        (
            {"reads": {"variations_for": ["fast", "lance/documented"]}},
            "`reads.variations_for` names 'lance/documented', which no format implements",
        ),
        ({"loader": {"batch_size": 0}}, "batch_size"),
        ({"loader": {"workers": [-1]}}, "workers"),
        ({"loader": {"workers": [0, 65]}}, "workers"),
        ({"loader": {"samplers": ["random"]}}, "random"),
        ({"loader": {"n": 5}}, "`loader.n` is 5, below every cutoff at 32 px [10, 150]"),
        (
            {"loader": {"implementations": ["fats"]}},
            "`loader.implementations` names 'fats', which no format implements",
        ),
        ({"image_sizes": [4]}, "image_sizes"),
        ({"image_sizes": []}, "image_sizes"),
        (
            {"image_sizes": [32, 512], "stores": {"folder": "results/stores", "max_gb": 0.001}},
            "at 512 px no cutoff fits `stores.max_gb` (0.001 GB)",
        ),
        (
            {"image_sizes": [1024], "cutoffs": [10**8], "loader": {"n": None}},
            "lower `cutoffs`, `image_sizes` or `stores.max_gb`",
        ),
        ({"dataset": {"source": "folder"}}, "`dataset.folder` is not set"),
        ({"dataset": {"labels_csv": "labels.csv"}}, "`dataset.labels_csv` is set but"),
        ({"dataset": {"source": "folder", "folder": "no/such/folder"}}, "no such folder"),
    ],
    ids=[
        "unknown-format",
        "old-png-format",
        "baseline-as-format",
        "unknown-implementation",
        "no-methods",
        "no-implementations",
        "codec-the-format-cannot-hold",
        "codecs-of-an-unknown-format",
        "unknown-codec",
        "no-codecs",
        "codec-no-configured-implementation-holds",
        "zero-jpeg-quality",
        "jpeg-quality-above-100",
        "unknown-store-option",
        "no-cutoffs",
        "zero-cutoff",
        "negative-cutoff",
        "fractional-cutoff",
        "text-cutoff",
        "no-repeats",
        "repeats-min-above-max",
        "zero-interval-width",
        "interval-width-above-one",
        "no-cell-budget",
        "unknown-key",
        "unknown-dataset-key",
        "bad-md5",
        "bad-source",
        "cutoff-beyond-pool",
        "empty-stores-folder",
        "stores-folder-under-a-file",
        "text-node-local",
        "unknown-variations-implementation",
        "variations-pair-the-format-lacks",
        "zero-loader-batch",
        "negative-loader-workers",
        "too-many-loader-workers",
        "unknown-sampler",
        "loader-n-below-every-cutoff",
        "unknown-loader-implementation",
        "image-size-too-small",
        "no-image-sizes",
        "no-cutoff-fits-the-store-cap",
        "stores-larger-than-the-free-space",
        "folder-source-without-folder",
        "labels-csv-without-folder-source",
        "missing-image-folder",
    ],
)
def test_invalid_config_is_refused_before_any_job(change: dict, named: str, tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    run = run_snakemake(project, merged(TINY_CONFIG, **change))
    assert run.returncode != 0
    assert named in run.output, run.output[-2000:]
    assert "ValidationError" in run.output or "ConfigError" in run.output, run.output[-2000:]
    assert not (project / "results").exists()  # not one job started


# conda-forge names of the packages whose PyPI names differ.
CONDA_TO_PYPI = {
    "python-lmdb": "lmdb",
    "matplotlib-base": "matplotlib",
    "tiledb-py": "tiledb",
    "pytorch": "torch",
}


@pytest.mark.parametrize("environment", ["environment.yml", "workflow/envs/imgbench.yaml"])
def test_conda_environments_pin_what_the_lock_file_pins(environment: str) -> None:
    """conda is not reachable here, so its environments are at least kept on the tested pins."""
    locked = dict(
        line.lower().split("==")
        for line in (REPO / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    pinned = [
        dependency.split("=")
        for dependency in yaml.safe_load((REPO / environment).read_text())["dependencies"]
        if isinstance(dependency, str) and "=" in dependency
    ]
    assert len(pinned) > 5
    for name, version in pinned:
        if name != "python":
            assert locked[CONDA_TO_PYPI.get(name, name)] == version, name


def _deep_merged(base: dict, change: dict) -> dict:
    """`change` over `base` key by key, as Snakemake merges `--configfile` overlays."""
    result = dict(base)
    for key, value in change.items():
        both_mappings = isinstance(value, dict) and isinstance(base.get(key), dict)
        result[key] = _deep_merged(base[key], value) if both_mappings else value
    return result


@pytest.mark.parametrize(
    "overlays",
    [
        ["full.yaml"],
        ["columnar.yaml"],
        ["columnar.yaml", "columnar-targets.yaml"],
        ["loader-targets.yaml"],
    ],
    ids=["full", "columnar", "columnar-targets", "loader-targets"],
)
def test_the_shipped_overlays_pass_config_checks_and_plan(overlays, tmp_path: Path) -> None:
    """Every overlay the README offers is a valid config that plans a run (a dry run)."""
    project = copy_project(tmp_path)
    config = yaml.safe_load((REPO / "config/synthetic.yaml").read_text())
    for name in overlays:
        config = _deep_merged(config, yaml.safe_load((REPO / "config" / name).read_text()))
    run = run_snakemake(project, config, "--dry-run", "--quiet", "rules")
    assert run.returncode == 0, run.output[-3000:]
    assert "read_store" in run.output, run.output[-3000:]
