"""The provenance record: code state with and without git, config hashing, every field."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from imgbench import provenance, stores, thread_pools
from imgbench.checksums import file_digest


def git(root: Path, *arguments: str) -> None:
    identity = ["-c", "user.name=t", "-c", "user.email=t@127.0.0.1"]
    subprocess.run(["git", *identity, "-C", str(root), *arguments], check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    (tmp_path / "workflow").mkdir()
    (tmp_path / "Snakefile").write_text("rule all:\n")
    (tmp_path / "workflow/common.smk").write_text("# shared\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "start")
    return tmp_path


def test_code_state_names_the_commit_and_notices_an_edit(checkout: Path) -> None:
    clean = provenance.code_state(checkout)
    assert len(str(clean["git_commit"])) == 40 and clean["git_dirty"] is False
    (checkout / "workflow/common.smk").write_text("# edited\n")
    dirty = provenance.code_state(checkout)
    assert dirty["git_commit"] == clean["git_commit"] and dirty["git_dirty"] is True
    assert dirty["source_sha256"] != clean["source_sha256"]


def test_code_state_without_git_still_identifies_the_code(tmp_path: Path) -> None:
    (tmp_path / "Snakefile").write_text("rule all:\n")
    state = provenance.code_state(tmp_path)
    assert state["git_commit"] is None and state["git_dirty"] is None
    (tmp_path / "Snakefile").write_text("rule all:\n    input: []\n")
    assert provenance.code_state(tmp_path)["source_sha256"] != state["source_sha256"]


def test_config_hash_ignores_key_order_but_not_values() -> None:
    config = {"cutoffs": [10, 100], "reads": {"cache": ["warm"], "seed": 0}}
    reordered = {"reads": {"seed": 0, "cache": ["warm"]}, "cutoffs": [10, 100]}
    assert provenance.config_sha256(config) == provenance.config_sha256(reordered)
    changed = {**config, "cutoffs": [10, 1000]}
    assert provenance.config_sha256(changed) != provenance.config_sha256(config)


def test_record_has_every_field_and_its_run_id_follows_the_config(tmp_path: Path) -> None:
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(b"not really an archive")
    table = tmp_path / "write_many.csv"
    table.write_text("seconds\n1\n")
    pool = tmp_path / "pool.json"
    pool.write_text('{"source": "rendered", "side": 64, "images": 10}')
    config = {"dataset": {"source": "synthetic", "synthetic_images": 10, "seed": 0}}

    def record(config: dict) -> dict:
        return provenance.build(
            code={"git_commit": None},
            config=config,
            archive=archive,
            verified_md5="0" * 32,
            pools=[pool],
            results=tmp_path,
            result_tables=[table],
            stores=[{"method": "raw", "sha256": "1" * 64}],
            measured_on=[{"host": "node-1", "filesystem": "xfs"}],
            thread_caps={"read_store": thread_pools.caps(2)},
            format_facts=stores.facts(["lance", "files"]),
        )

    first = record(config)
    assert tuple(first) == provenance.FIELDS
    assert first["thread_caps"]["read_store"]["OPENBLAS_NUM_THREADS"] == 2
    assert first["software"]["Lance file format written"] == "2.2"
    assert first["dataset"]["sha256"] == file_digest(archive)
    assert first["dataset"]["pools"] == [{"source": "rendered", "side": 64, "images": 10}]
    other = record({**config, "repeats": 5})
    assert other["run_id"] != first["run_id"] and other["config_sha256"] != first["config_sha256"]
