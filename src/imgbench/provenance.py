"""Where a set of results came from: code, config, data, software and machine, under one run id.

A number without these is worthless to whoever cites it. The record is written by a pipeline job
whose params hold the config, the software and the machine, so a change to any of them reruns it,
and whose inputs are the verified archive and every per-job table, so new measurements (new code
in a measuring job included) rerun it too. Every row of the aggregated tables carries its run id.

The record names the code state when it was written: the git commit, whether the tree differed
from it, and a hash of the workflow's files. Code that only presents the numbers (figures, the
report, captions, docs) is not among its params: editing it redraws what it draws and keeps the
run id, so the commit named is the one the numbers were recorded at.
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import yaml

from imgbench import machine
from imgbench.atomic_files import atomic_path
from imgbench.cells import (
    DISK_COLUMNS,
    NOT_APPLICABLE,
    SERIES_KEYS,
    SIZE_COLUMN,
    TIMING_COLUMNS,
)
from imgbench.checksums import file_digest, files_sha256

# What the code state hashes: everything that decides what the pipeline does.
SOURCE_GLOBS = (
    "Snakefile",
    "workflow/**/*",
    "src/imgbench/**/*.py",
    "config/*.yaml",
    "pyproject.toml",
    "requirements.lock",
)
FIELDS = ("run_id", "code", "config", "config_sha256", "dataset", "software", "machine")
FIELDS += ("measured_on", "thread_caps", "stores", "times")


def _git(root: Path, *arguments: str) -> str | None:
    try:
        return subprocess.run(
            ["git", "-C", str(root), *arguments], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def code_state(root: Path) -> dict[str, object]:
    """The git commit and whether the tree differs from it (None outside a git checkout), and a
    SHA-256 of the workflow's own files, which identifies the code with or without git."""
    commit = _git(root, "rev-parse", "HEAD")
    status = _git(root, "status", "--porcelain") if commit else None
    files = {path for pattern in SOURCE_GLOBS for path in root.glob(pattern)}
    return {
        "git_commit": commit,
        "git_dirty": None if status is None else bool(status),
        "source_sha256": files_sha256(
            root, (path for path in files if path.is_file() and "__pycache__" not in path.parts)
        ),
    }


def config_sha256(config: Mapping[str, object]) -> str:
    """A hash of the effective config that ignores key order and formatting."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def dataset_record(
    dataset: Mapping[str, object],
    archive: Path | None,
    verified_md5: str | None,
    pools: Sequence[Path],
) -> dict[str, object]:
    """Where the images came from: the checksums of the archive that was actually used (none
    for a folder of the user's images), and how each size's image pool was made from it (a
    folder's classes and the files it skipped among them)."""
    source = dataset["source"]
    made = [json.loads(path.read_text()) for path in pools]
    if archive is None:
        return {"source": source, "folder": dataset["folder"], "pools": made}
    record: dict[str, object] = {"source": source, "archive": str(archive)}
    if source == "synthetic":
        record |= {"url": None, "images": dataset["synthetic_images"], "seed": dataset["seed"]}
    else:
        record |= {"url": dataset["url"], "local_copy": dataset.get("archive")}
    return record | {"md5": verified_md5, "sha256": file_digest(archive), "pools": made}


def build(
    *,
    code: Mapping[str, object],
    config: Mapping[str, object],
    archive: Path | None,
    verified_md5: str | None,
    pools: Sequence[Path],
    results: Path,
    result_tables: Sequence[Path],
    stores: Sequence[Mapping[str, object]],
    measured_on: Sequence[Mapping[str, str]],
    thread_caps: Mapping[str, Mapping[str, int]],
    format_facts: Mapping[str, str],
) -> dict[str, object]:
    """The provenance record; `result_tables` are the per-job tables the run's numbers come from,
    `format_facts` what the measured formats say about the files they write."""
    software = machine.library_versions() | {"python": machine.describe(results)["python"]}
    software |= format_facts
    written = [path.stat().st_mtime for path in result_tables]
    record: dict[str, object] = {
        "code": dict(code),
        "config": dict(config),
        "config_sha256": config_sha256(config),
        "dataset": dataset_record(config["dataset"], archive, verified_md5, pools),
        "software": software,
        # `machine` is where this record was written; `measured_on` every host that timed a
        # store, with the filesystem type the stores were on. On one machine the hosts agree;
        # a cluster run on several nodes mixes their numbers.
        "machine": machine.describe(results) | {"host": socket.gethostname()},
        "measured_on": [dict(place) for place in measured_on],
        # the cap on every library thread pool in each timing job (`imgbench.thread_pools`)
        "thread_caps": {job: dict(caps) for job, caps in thread_caps.items()},
        "stores": [dict(store) for store in stores],
    }
    content_sha256 = hashlib.sha256(canonical_json(record).encode()).hexdigest()
    finished = max(written)
    record["times"] = {
        "first_result_written": _utc(min(written)),
        "last_result_written": _utc(finished),
        "recorded": _utc(datetime.now(UTC).timestamp()),
    }
    stamp = datetime.fromtimestamp(finished, UTC).strftime("%Y%m%dT%H%M%SZ")
    return {"run_id": f"{stamp}-{content_sha256[:8]}", **record}


def write(record: Mapping[str, object], path: Path) -> None:
    with atomic_path(path) as partial:
        partial.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n")


def read(path: Path) -> dict[str, object]:
    return json.loads(path.read_text())


def record_provenance(
    project: Path,
    config: dict[str, object],
    thread_caps: Mapping[str, Mapping[str, int]],
    format_facts: Mapping[str, str],
    archive_path: Path | None,
    checksum: Path | None,
    pool_records: Sequence[Path],
    timing_tables: Sequence[Path],
    disk_tables: Sequence[Path],
    loader_tables: Sequence[Path],
    record: Path,
    effective_config: Path,
) -> None:
    """The provenance job: the record of this run, and the effective config beside it. The
    loader's tables (`imgbench.loader`) are results of the run too: they date it."""
    from imgbench.tables import concat_tables  # imported here: `tables` reads records with `read`

    stores = concat_tables(disk_tables, DISK_COLUMNS)
    timings = concat_tables(timing_tables, TIMING_COLUMNS)
    measured_on = timings[["host", "filesystem"]].astype(str).drop_duplicates()
    # Decode floors touch no filesystem.
    measured_on = measured_on[measured_on.filesystem != NOT_APPLICABLE]
    keys = [*SERIES_KEYS, SIZE_COLUMN, "n_images", "sha256"]
    built = build(
        code=code_state(project),
        config=config,
        archive=archive_path,
        verified_md5=checksum.read_text().strip() if checksum else None,
        pools=pool_records,
        results=record.parent,
        result_tables=[*timing_tables, *disk_tables, *loader_tables],
        stores=stores[keys].to_dict("records"),
        measured_on=measured_on.sort_values(["host", "filesystem"]).to_dict("records"),
        thread_caps=thread_caps,
        format_facts=format_facts,
    )
    write(built, record)
    with atomic_path(effective_config) as partial:
        partial.write_text(yaml.safe_dump(config, sort_keys=False))
    print(f"run {built['run_id']}: provenance in {record}, effective config in {effective_config}")
