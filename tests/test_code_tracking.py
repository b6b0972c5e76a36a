"""The code a job runs, as the workflow computes it from the package's import statements."""

from __future__ import annotations

from pathlib import Path

from imgbench.code_tracking import closure

from conftest import REPO

SOURCE = REPO / "src"


def package(root: Path, files: dict[str, str]) -> Path:
    """A fake `imgbench` package under `root/src`, from module path -> source."""
    for name, text in files.items():
        path = root / "src" / "imgbench" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "src"


def names(source: Path, paths: list[Path]) -> set[str]:
    return {path.relative_to(source / "imgbench").as_posix() for path in paths}


def test_imports_are_followed_through_the_package_and_nothing_else(tmp_path: Path) -> None:
    source = package(
        tmp_path,
        {
            "__init__.py": "def __getattr__(name):\n    from imgbench import heavy\n",
            "heavy.py": "",
            "job.py": "import os\nfrom imgbench.sub import helper\n",
            "sub/__init__.py": (
                "from imgbench import shared\n\ndef lazy():\n    import imgbench.heavy\n"
            ),
            "sub/helper.py": "def run():\n    from imgbench.sub.late import x\n",
            "sub/late.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import imgbench.heavy\n"
            ),
            "shared.py": "",
            "unused.py": "import imgbench.job\n",
        },
    )
    script = tmp_path / "script.py"
    script.write_text("from imgbench.job import *\n")
    assert names(source, closure(source, [script])) == {
        "__init__.py",  # a parent package: its module-level code runs, its functions do not
        "job.py",
        "sub/__init__.py",
        "shared.py",  # imported by a parent package at module level
        "sub/helper.py",
        "sub/late.py",  # imported inside a function: it runs when the function does
    }


def test_taking_a_name_from_a_package_follows_the_whole_package(tmp_path: Path) -> None:
    source = package(
        tmp_path,
        {"__init__.py": "def __getattr__(name):\n    from imgbench import heavy\n", "heavy.py": ""},
    )
    script = tmp_path / "script.py"
    script.write_text("from imgbench import open_store\n")
    assert names(source, closure(source, [script])) == {"__init__.py", "heavy.py"}


def test_relative_imports_and_named_modules_are_followed(tmp_path: Path) -> None:
    source = package(
        tmp_path,
        {
            "__init__.py": "",
            "stores/__init__.py": "",
            "stores/base.py": "",
            "stores/npz.py": "from .base import Store\nfrom .. import errors\n",
            "errors.py": "",
        },
    )
    assert names(source, closure(source, [], ["imgbench.stores.npz"])) == {
        "__init__.py",
        "errors.py",
        "stores/__init__.py",
        "stores/base.py",
        "stores/npz.py",
    }


def job_code(script: str, *modules: str) -> set[str]:
    return names(SOURCE, closure(SOURCE, [REPO / "workflow/scripts" / script], modules))


def test_the_real_jobs_import_what_they_run_and_not_what_they_do_not() -> None:
    figure = job_code("figure.py", "imgbench.present.durability")
    assert {"present/durability.py", "present/parts.py", "cells.py", "tables.py"} <= figure
    assert not {"present/variations.py", "present/registry.py", "stores/base.py"} & figure
    timing = job_code("build_store.py", "imgbench.stores.lmdb")
    assert {"pool.py", "cells.py", "machine.py", "measure.py", "stores/lmdb.py"} <= timing
    assert (
        not {"stores/files.py", "tables.py", "cifar.py", "batches.py", "present/data.py"} & timing
    )
    assert {"codecs.py", "parallel.py"} <= timing  # LMDB encodes and decodes on every core
    floor = job_code("decode_floor.py")
    assert {"codecs.py", "parallel.py", "measure.py", "store_timings.py"} <= floor
    assert not {"stores/files.py", "stores/lmdb.py", "stores/hdf5.py"} & floor
    download = job_code("fetch_cifar.py")
    assert "cifar.py" in download and not {"pool.py", "cells.py", "batches.py"} & download
