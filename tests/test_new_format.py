"""A new storage format is one module: the README's example, written into a copy of the project
with no other file edited, is measured, tabled, reported and drawn like the built-in formats."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from imgbench.checksums import file_digest

from conftest import REPO, TINY_CONFIG, copy_project, exactly, merged, run_snakemake

pytestmark = pytest.mark.pipeline


def readme_example() -> tuple[str, str]:
    """(format name, module source) of the example in the README's "Adding a storage format"."""
    readme = (REPO / "README.md").read_text()
    found = re.search(r"<!-- example-format: (\w+) -->\n```python\n(.*?)```", readme, re.S)
    assert found, "the README lost its example format"
    return found[1], found[2]


def tree(root: Path) -> dict[str, str]:
    """Checksum of every file of the project copy, by its path, outside what a run writes."""
    return {
        path.relative_to(root).as_posix(): file_digest(path)
        for folder in ("src", "workflow", "config", "profiles")
        for path in (root / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    } | {"Snakefile": file_digest(root / "Snakefile")}


def test_the_readme_example_format_is_measured_reported_and_drawn(tmp_path: Path) -> None:
    name, source = readme_example()
    project = copy_project(tmp_path)
    before = tree(project)
    (project / f"src/imgbench/stores/{name}.py").write_text(source)
    assert tree(project).keys() - before.keys() == {f"src/imgbench/stores/{name}.py"}
    assert {path: digest for path, digest in tree(project).items() if path in before} == before

    config = merged(
        TINY_CONFIG,
        cutoffs=[10, 40],
        methods=[name, "lmdb"],
        implementations=["tutorial", "fast"],  # the example has `fast` only
        baseline=False,
        repeats=exactly(1),
        reads={"cache": ["warm"], "order": ["sequential"], "readers": [1], "seed": 0},
    )
    legends = ("read_time_log", "store_time_linear", "read_write_log")
    figures = [f"results/figures/{figure}.svg" for figure in legends]
    run = run_snakemake(project, config, "results/tables/benchmark.md", *figures)
    assert run.returncode == 0, run.output[-4000:]
    results = project / "results"

    summary = pd.read_csv(results / "tables/summary.csv")
    stores = set(zip(summary.method, summary.implementation, summary.codec, strict=True))
    # A format that names no codecs holds raw pixels, its stores' default.
    assert stores == {(name, "fast", "raw"), ("lmdb", "tutorial", "raw"), ("lmdb", "fast", "raw")}
    example = summary[summary.method == name]
    assert set(example.operation) == {
        "write_many",
        "read_many",
        "write_single",
        "read_single",
        "append",
        "write_concurrent",
        "read_one",
    }
    # With no append or shared writer of its own, the claims' experiments still run on it: the
    # store is rewritten to append, and each writer process writes a store of its own.
    experiments = pd.read_csv(results / "tables/claim_experiments.csv")
    example = experiments[experiments.method == name].set_index("experiment")
    assert example.loc["append", "needed"].startswith("rewrote the whole store")
    assert example.loc["write_concurrent", "shared"].astype(str).tolist() == ["False", "False"]
    disk = pd.read_csv(results / "tables/disk_usage.csv")
    assert sorted(disk[disk.method == name].n_images) == [10, 40]
    assert (disk[disk.method == name].kib_allocated > 0).all()

    # Its presentation names it in the report's tables and in the figures' legends.
    label = re.search(r'Presentation\(label="([^"]+)"', source)[1] + "+raw fast"
    report = (results / "tables/benchmark.md").read_text()
    assert f"| {label} |" in report and "| LMDB+raw fast |" in report
    for figure in legends:
        svg = (results / f"figures/{figure}.svg").read_text()
        assert f"<!-- {label} -->" in svg and "<!-- LMDB+raw tutorial -->" in svg, figure
