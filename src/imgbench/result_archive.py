"""One run's results as one shippable file, checked against its manifest, and two runs compared
cell by cell, beyond noise or within it.

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
from imgbench.cells import SUMMARY_KEYS, upgrade_old_table
from imgbench.confidence import Change, change, ratio_interval
from imgbench.errors import ResultArchiveError

MANIFEST = "MANIFEST.sha256"
PROVENANCE = "provenance.json"
SUMMARY = "tables/summary.csv"
TIMINGS = "tables/timings.csv"
CLAIMS = "tables/claims.csv"


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
    """Every regular file of an archive by its name inside the run folder.

    Folder entries inside the run folder are allowed (a plain `tar -czf` of an extracted archive
    adds them) and carry nothing; anything else, or anything outside one run folder, is refused.
    """
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = {}
            folders = set()
            for member in tar:
                folder, _, name = member.name.rstrip("/").partition("/")
                folders.add(folder)
                inside = folder.startswith("imgbench-") and len(folders) == 1
                if inside and member.isdir():
                    continue
                if not inside or not member.isfile() or not name:
                    raise ResultArchiveError(
                        f"{path}: unexpected member {member.name!r}; an imgbench archive holds "
                        "only regular files (and their folders) inside one imgbench-<run id>/ "
                        "folder"
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
    """What `compare` needs from one archive: its provenance and every timed repeat."""

    name: str
    provenance: dict[str, object]
    timings: pd.DataFrame
    claims: pd.DataFrame | None  # none in archives from before the claims were checked

    @classmethod
    def load(cls, path: Path) -> Run:
        members = read_members(path)
        for needed in (PROVENANCE, TIMINGS):
            if needed not in members:
                raise ResultArchiveError(f"{path} has no {needed}: not an imgbench archive")
        timings = pd.read_csv(io.BytesIO(members[TIMINGS]), keep_default_na=False, na_values=[""])
        claims = (
            pd.read_csv(io.BytesIO(members[CLAIMS]), keep_default_na=False, na_values=[""])
            if CLAIMS in members
            else None
        )
        # An archive from before the codec axis compares with a current one under today's names.
        return cls(path.name, json.loads(members[PROVENANCE]), upgrade_old_table(timings), claims)


def claim_changes(a: pd.DataFrame | None, b: pd.DataFrame | None) -> list[str]:
    """The tutorial's claims whose verdict differs between the runs, with both runs' figures."""
    if a is None or b is None:
        return ["Claims: not compared (an archive from before the claims were checked)."]
    merged = a.merge(b, on=["claim", "id"], suffixes=("_a", "_b"))
    changed = merged[merged["verdict_a"] != merged["verdict_b"]]
    if changed.empty:
        return [f"Claims: all {len(merged)} verdicts are the same in both runs."]
    lines = [f"Claims whose verdict differs ({len(changed)} of {len(merged)}):"]
    for row in changed.itertuples():
        lines += [
            f"  {row.claim}. {row.tutorial_says_a}",
            f"     A: {row.verdict_a}: {row.measured_a}",
            f"     B: {row.verdict_b}: {row.measured_b}",
        ]
    return lines


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


ONLY_IN = {"a": "only in A", "b": "only in B"}


def cell_changes(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per cell: both medians, B ÷ A with its 95% interval (a bootstrap over both runs'
    repeats) and whether B is faster, slower or within noise; a cell only one run measured is
    marked so."""
    keys = [key for key in SUMMARY_KEYS if key in a and key in b]
    cells_a = {key: cell.to_numpy(float) for key, cell in a.groupby(keys)["seconds"]}
    cells_b = {key: cell.to_numpy(float) for key, cell in b.groupby(keys)["seconds"]}
    rows = []
    for key in sorted(cells_a.keys() ^ cells_b.keys(), key=str):
        side = "a" if key in cells_a else "b"
        median = float(pd.Series((cells_a | cells_b)[key]).median())
        rows.append(dict(zip(keys, key, strict=True)) | {f"median_{side}": median})
        rows[-1]["change"] = ONLY_IN[side]
    for key, cell_b in cells_b.items():
        if key not in cells_a:
            continue
        ratio = ratio_interval(cell_b, cells_a[key])
        rows.append(
            dict(zip(keys, key, strict=True))
            | {
                "median_a": float(pd.Series(cells_a[key]).median()),
                "median_b": float(pd.Series(cell_b).median()),
                "b_over_a": ratio.estimate,
                "ci_low": ratio.low,
                "ci_high": ratio.high,
                "change": change(ratio).value,
            }
        )
    columns = [*keys, "median_a", "median_b", "b_over_a", "ci_low", "ci_high", "change"]
    return pd.DataFrame(rows, columns=columns)


def compare(path_a: Path, path_b: Path) -> str:
    """Per measured cell, both medians, B ÷ A with its interval and the verdict; a one-line
    count of the cells that differ beyond noise; then every difference between the runs."""
    a, b = Run.load(path_a), Run.load(path_b)
    cells = cell_changes(a.timings, b.timings)
    lines = [f"A: {a.name} (run {a.provenance.get('run_id')})"]
    lines += [f"B: {b.name} (run {b.provenance.get('run_id')})", ""]
    if cells.empty:
        lines += ["The two runs have no measured cell in common.", ""]
    else:
        lines += [cells.to_string(index=False, float_format=lambda value: f"{value:.6g}"), ""]
        counts = cells.change.value_counts()
        common = sum(counts.get(change, 0) for change in Change)
        differ = counts.get(Change.FASTER, 0) + counts.get(Change.SLOWER, 0)
        lines += [
            f"{differ} of {common} cells differ beyond noise ({counts.get(Change.FASTER, 0)} "
            f"faster, {counts.get(Change.SLOWER, 0)} slower in B); the others are within noise."
        ]
        lines += [
            f"{counts[words]} cell(s) {words}." for words in ONLY_IN.values() if words in counts
        ]
        lines += [""]
    lines += [*claim_changes(a.claims, b.claims), ""]
    found = differences(a.provenance, b.provenance)
    lines += [
        "Differences between the runs:"
        if found
        else "No difference in code, config, data, software or machine."
    ]
    lines += [f"  {line}" for line in found]
    return "\n".join(lines)
