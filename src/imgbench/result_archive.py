"""One run's results as one shippable file, checked against its manifest, and two runs compared.

An archive `imgbench-<run id>.tar.gz` holds one folder `imgbench-<run id>/` with the tables,
figures, HTML report, provenance record, effective config and `MANIFEST.sha256` (the SHA-256 of
every other file). Archives are read member by member in memory, never extracted, so a tampered
archive cannot write anywhere.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from imgbench import provenance
from imgbench.atomic_files import exclusive_path
from imgbench.cells import SUMMARY_KEYS
from imgbench.errors import ResultArchiveError

MANIFEST = "MANIFEST.sha256"
PROVENANCE = "provenance.json"
SUMMARY = "tables/summary.csv"


def archive_name(run_id: str) -> str:
    return f"imgbench-{run_id}.tar.gz"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def create(out: Path, run_id: str, files: Mapping[str, Path]) -> None:
    """Write the archive `out` from `files` (name inside the archive -> file), with a manifest.

    Refuses to replace an existing archive: an archive is a record of one run, and a later run
    gets its own run id. Member metadata is fixed (owner, mode, time) so only content varies.
    """
    if out.exists():
        raise ResultArchiveError(
            f"{out} already exists and archives are never overwritten; delete or move it first"
        )
    contents = {name: Path(path).read_bytes() for name, path in sorted(files.items())}
    manifest = "".join(f"{_sha256(data)}  {name}\n" for name, data in contents.items())
    contents[MANIFEST] = manifest.encode()
    folder = f"imgbench-{run_id}"
    try:
        with (
            exclusive_path(out) as partial,
            partial.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped,
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for name, data in contents.items():
                info = tarfile.TarInfo(f"{folder}/{name}")
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                tar.addfile(info, io.BytesIO(data))
    except FileExistsError:
        raise ResultArchiveError(f"{out} appeared while it was being written") from None


def pack(record: Path, files: Mapping[str, Path], out: Path) -> None:
    """The archive job: `out` must be the archive of the run `record` describes."""
    run_id = provenance.read(record)["run_id"]
    if out.name != archive_name(run_id):
        raise ResultArchiveError(
            f"{out} is not the archive of run {run_id}; rerun `snakemake archive`"
        )
    create(out, run_id, files)
    print(f"archived run {run_id} in {out}: " + ", ".join(sorted(files)))


def read_members(path: Path) -> dict[str, bytes]:
    """Every regular file of an archive by its name inside the run folder."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = {}
            for member in tar:
                folder, _, name = member.name.partition("/")
                if not member.isfile() or not folder.startswith("imgbench-") or not name:
                    raise ResultArchiveError(
                        f"{path}: unexpected member {member.name!r}; an imgbench archive holds "
                        "only regular files inside one imgbench-<run id>/ folder"
                    )
                extracted = tar.extractfile(member)
                members[name] = extracted.read() if extracted else b""
            return members
    except (OSError, tarfile.TarError, EOFError) as error:
        raise ResultArchiveError(f"{path} is not a readable .tar.gz: {error}") from error


def verify(path: Path) -> list[str]:
    """Every problem found in the archive at `path`; an empty list means it is intact."""
    members = read_members(path)
    if MANIFEST not in members:
        return [f"{MANIFEST} is missing, so nothing in the archive can be checked"]
    listed = {}
    for line in members.pop(MANIFEST).decode().splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    problems = [f"removed: {name}" for name in sorted(listed.keys() - members.keys())]
    problems += [f"added: {name}" for name in sorted(members.keys() - listed.keys())]
    problems += [
        f"changed: {name} (SHA-256 {_sha256(members[name])}, manifest says {listed[name]})"
        for name in sorted(listed.keys() & members.keys())
        if _sha256(members[name]) != listed[name]
    ]
    return problems + _provenance_problems(path, members)


def _provenance_problems(path: Path, members: Mapping[str, bytes]) -> list[str]:
    """The provenance record must exist and agree with the archive's name and tables."""
    if PROVENANCE not in members:
        return [f"{PROVENANCE} is missing"]
    try:
        record = json.loads(members[PROVENANCE])
        run_id = record["run_id"]
    except (ValueError, KeyError, TypeError):
        return [f"{PROVENANCE} is not a valid provenance record"]
    problems = []
    if path.name != archive_name(run_id):
        problems.append(f"the archive is named {path.name}, its provenance says run {run_id}")
    if SUMMARY in members:
        run_ids = set(pd.read_csv(io.BytesIO(members[SUMMARY])).run_id.astype(str))
        if run_ids != {run_id}:
            problems.append(f"{SUMMARY} has run ids {sorted(run_ids)}, provenance says {run_id}")
    return problems


@dataclass(frozen=True)
class Run:
    """What `compare` needs from one archive."""

    name: str
    provenance: dict[str, object]
    summary: pd.DataFrame

    @classmethod
    def load(cls, path: Path) -> Run:
        members = read_members(path)
        for needed in (PROVENANCE, SUMMARY):
            if needed not in members:
                raise ResultArchiveError(f"{path} has no {needed}: not an imgbench archive")
        summary = pd.read_csv(io.BytesIO(members[SUMMARY]), keep_default_na=False, na_values=[""])
        return cls(path.name, json.loads(members[PROVENANCE]), summary)


def _flatten(value: object, prefix: str = "") -> Iterator[tuple[str, object]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def differences(a: Mapping[str, object], b: Mapping[str, object]) -> list[str]:
    """Lines naming each difference in code, config, data, software or machine."""
    lines = []
    for section in ("code", "config", "dataset", "software", "machine", "measured_on"):
        left = dict(_flatten(a.get(section, {})))
        right = dict(_flatten(b.get(section, {})))
        for key in sorted(left.keys() | right.keys()):
            if left.get(key) != right.get(key):
                lines.append(f"{section}: {key}: {left.get(key)!r} -> {right.get(key)!r}")
    return lines


def compare(path_a: Path, path_b: Path) -> str:
    """Per measured cell, both medians and B ÷ A; then every difference between the two runs."""
    a, b = Run.load(path_a), Run.load(path_b)
    keys = [key for key in SUMMARY_KEYS if key in a.summary and key in b.summary]
    cells = a.summary[[*keys, "seconds_median"]].merge(
        b.summary[[*keys, "seconds_median"]], on=keys, how="outer", suffixes=("_a", "_b")
    )
    cells["ratio_b_over_a"] = cells.seconds_median_b / cells.seconds_median_a
    lines = [f"A: {a.name} (run {a.provenance.get('run_id')})"]
    lines += [f"B: {b.name} (run {b.provenance.get('run_id')})", ""]
    lines += [cells.to_string(index=False, float_format=lambda value: f"{value:.6g}"), ""]
    found = differences(a.provenance, b.provenance)
    lines += [
        "Differences between the runs:"
        if found
        else "No difference in code, config, data, software or machine."
    ]
    lines += [f"  {line}" for line in found]
    return "\n".join(lines)
