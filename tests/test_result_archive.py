"""Result archives: round trip, never overwritten, tampering named, runs compared."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from imgbench import cli, result_archive
from imgbench.errors import ResultArchiveError

# Read cells at 1,000 images: (format, median seconds) in run A; run B scales each by `scale`.
CELLS = {"lmdb": 0.1, "hdf5": 0.05, "files": 2.0}
CODECS = {"lmdb": "raw", "hdf5": "raw", "files": "png"}
SPREAD = (-0.02, -0.01, 0.0, 0.01, 0.02)  # each cell's repeats around its median


def timings(run_id: str, scale: dict[str, float], *, old: bool = False) -> pd.DataFrame:
    """Five repeats of the reference read of each format in `CELLS`, times `scale`; `old`: as
    tables from before the codec axis wrote them (no codec column, the files store named png)."""
    rows = [
        {
            "run_id": run_id,
            "method": name,
            "implementation": "fast",
            "codec": CODECS[name],
            "image_size": 32,
            "n_images": 1000,
            "operation": "read_many",
            "phase": "read",
            "cache": "warm",
            "order": "sequential",
            "readers": 1,
            "repeat": repeat,
            "sample": 0,
            "images": 1000,
            "seconds": seconds * scale.get(name, 1.0) * (1 + deviation),
        }
        for name, seconds in CELLS.items()
        for repeat, deviation in enumerate(SPREAD)
    ]
    frame = pd.DataFrame(rows)
    if old:
        frame = frame.drop(columns=["codec", "image_size"]).replace({"method": {"files": "png"}})
    return frame


def results(
    folder: Path, run_id: str, *, repeats: int, scale: dict[str, float], old: bool = False
) -> dict[str, Path]:
    """The files of a small run: timings and their summary, a figure and a provenance record."""
    folder.mkdir()
    timed = timings(run_id, scale, old=old)
    timed.to_csv(folder / "timings.csv", index=False)
    timed.groupby("method", as_index=False).first().to_csv(folder / "summary.csv", index=False)
    (folder / "throughput.png").write_bytes(bytes(range(256)))
    record = {
        "run_id": run_id,
        "code": {"git_commit": "a" * 40},
        "config": {"repeats": repeats, "cutoffs": [1000]},
        "dataset": {"md5": "b" * 32},
        "software": {"numpy": "2.4.6"},
        "machine": {"cpu": "Test CPU", "cores": 2},
    }
    (folder / "provenance.json").write_text(json.dumps(record))
    return {
        "tables/timings.csv": folder / "timings.csv",
        "tables/summary.csv": folder / "summary.csv",
        "figures/throughput.png": folder / "throughput.png",
        "provenance.json": folder / "provenance.json",
    }


def pack(tmp_path: Path, run_id: str = "20261122T000000Z-aaaa", **kwargs) -> Path:
    out = tmp_path / "archives" / result_archive.archive_name(run_id)
    files = results(tmp_path / run_id, run_id, **{"repeats": 3, "scale": {}, **kwargs})
    result_archive.create(out, run_id, files)
    return out


def rewrite(path: Path, change) -> None:
    """Rewrite the archive at `path` with `change(members)` applied to {name: bytes}."""
    with tarfile.open(path) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    change(members)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buffer.getvalue()))


def test_an_archive_round_trips_through_verify(tmp_path: Path, capsys) -> None:
    path = pack(tmp_path)
    assert result_archive.verify(path) == []
    assert cli.main(["verify-archive", str(path)]) == 0
    assert "intact" in capsys.readouterr().out


def test_archives_are_never_overwritten(tmp_path: Path) -> None:
    path = pack(tmp_path)
    before = path.read_bytes()
    with pytest.raises(ResultArchiveError, match="never overwritten"):
        result_archive.create(path, "20261122T000000Z-aaaa", {})
    assert path.read_bytes() == before


def test_one_changed_byte_is_named(tmp_path: Path, capsys) -> None:
    path = pack(tmp_path)
    name = "imgbench-20261122T000000Z-aaaa/figures/throughput.png"

    def flip(members: dict[str, bytes]) -> None:
        data = bytearray(members[name])
        data[100] ^= 1
        members[name] = bytes(data)

    rewrite(path, flip)
    assert cli.main(["verify-archive", str(path)]) == 1
    assert "changed: figures/throughput.png" in capsys.readouterr().out


def test_added_and_removed_files_are_named(tmp_path: Path) -> None:
    path = pack(tmp_path)
    folder = "imgbench-20261122T000000Z-aaaa"

    def swap(members: dict[str, bytes]) -> None:
        del members[f"{folder}/figures/throughput.png"]
        members[f"{folder}/figures/extra.png"] = b"new"

    rewrite(path, swap)
    problems = result_archive.verify(path)
    assert "removed: figures/throughput.png" in problems and "added: figures/extra.png" in problems


def test_provenance_must_match_the_archive(tmp_path: Path) -> None:
    path = pack(tmp_path)
    renamed = path.with_name(result_archive.archive_name("20261122T000000Z-bbbb"))
    path.rename(renamed)
    assert any(
        "provenance says run 20261122T000000Z-aaaa" in p for p in result_archive.verify(renamed)
    )


def test_a_link_member_or_a_non_archive_is_refused(tmp_path: Path) -> None:
    with tarfile.open(tmp_path / "links.tar.gz", "w:gz") as tar:
        link = tarfile.TarInfo("imgbench-x/provenance.json")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(ResultArchiveError, match="unexpected member"):
        result_archive.verify(tmp_path / "links.tar.gz")
    (tmp_path / "junk.tar.gz").write_bytes(b"no archive here")
    assert cli.main(["verify-archive", str(tmp_path / "junk.tar.gz")]) == 2


def test_compare_marks_cells_beyond_noise_and_names_the_config_difference(
    tmp_path: Path, capsys
) -> None:
    """B: LMDB twice as slow, files twice as fast, HDF5 1% slower (inside the repeats' spread)."""
    a = pack(tmp_path, "20261122T000000Z-aaaa", repeats=3)
    b = pack(
        tmp_path, "20261122T010000Z-bbbb", repeats=5, scale={"lmdb": 2, "files": 0.5, "hdf5": 1.01}
    )
    assert cli.main(["compare", str(a), str(b)]) == 0
    text = capsys.readouterr().out
    assert "config: repeats: 3 -> 5" in text
    rows = {
        line.split()[0]: line.split()
        for line in text.splitlines()
        if line.split()[:3]
        in (["lmdb", "fast", "raw"], ["files", "fast", "png"], ["hdf5", "fast", "raw"])
    }
    assert rows["lmdb"][-1] == "slower" and rows["lmdb"][-4] == "2"  # B ÷ A
    assert rows["files"][-1] == "faster" and rows["files"][-4] == "0.5"
    assert rows["hdf5"][-2:] == ["within", "noise"]
    assert "2 of 3 cells differ beyond noise (1 faster, 1 slower in B)" in text


def test_compare_names_cells_only_one_run_measured(tmp_path: Path) -> None:
    a = pack(tmp_path, "20261122T000000Z-aaaa")
    b = tmp_path / "archives" / result_archive.archive_name("20261122T010000Z-bbbb")
    files = results(tmp_path / "b", "20261122T010000Z-bbbb", repeats=3, scale={})
    timed = pd.read_csv(files["tables/timings.csv"])
    timed.loc[timed.method == "files", "n_images"] = 2000  # files measured at another N in B
    timed.to_csv(files["tables/timings.csv"], index=False)
    result_archive.create(b, "20261122T010000Z-bbbb", files)
    text = result_archive.compare(a, b)
    assert "0 of 2 cells differ beyond noise" in text
    assert "1 cell(s) only in A." in text and "1 cell(s) only in B." in text
    assert "code:" not in text and "machine:" not in text


def test_an_archive_from_before_codecs_compares_under_todays_names(tmp_path: Path, capsys) -> None:
    """A: tables without a codec column, the files store called png; B: today's tables, files
    twice as fast. Every cell is matched: none is only in one run."""
    a = pack(tmp_path, "20261122T000000Z-aaaa", old=True)
    b = pack(tmp_path, "20261122T010000Z-bbbb", scale={"files": 0.5})
    with tarfile.open(a) as tar:
        member = tar.extractfile("imgbench-20261122T000000Z-aaaa/tables/timings.csv")
        old = pd.read_csv(member)  # type: ignore[arg-type]
    assert "codec" not in old.columns and set(old.method) == {"lmdb", "hdf5", "png"}
    assert cli.main(["compare", str(a), str(b)]) == 0
    text = capsys.readouterr().out
    assert "1 of 3 cells differ beyond noise (1 faster, 0 slower in B)" in text
    assert "only in" not in text
    (files,) = [
        line.split() for line in text.splitlines() if line.split()[:3] == ["files", "fast", "png"]
    ]
    assert files[-1] == "faster" and files[-4] == "0.5"


def test_an_archive_packed_again_with_plain_tar_is_verified(tmp_path: Path) -> None:
    """Extracted and packed again with `tar -czf`, which adds folder entries: still intact, and a
    changed, added or removed file is still named."""
    path = pack(tmp_path)
    folder = path.name.removesuffix(".tar.gz")
    extracted = tmp_path / "extracted"
    extracted.mkdir()
    subprocess.run(["tar", "-xzf", str(path), "-C", str(extracted)], check=True)
    repacked = tmp_path / "again" / path.name
    repacked.parent.mkdir()

    def tar_again() -> list[str]:
        repacked.unlink(missing_ok=True)
        subprocess.run(["tar", "-czf", str(repacked), folder], cwd=extracted, check=True)
        return result_archive.verify(repacked)

    with tarfile.open(path) as original:
        assert not any(member.isdir() for member in original)
    assert tar_again() == []
    with tarfile.open(repacked) as again:
        assert any(member.isdir() for member in again)
    run = extracted / folder
    (run / "figures/throughput.png").write_bytes(b"changed")
    (run / "tables/extra.csv").write_text("added")
    (run / "tables/timings.csv").unlink()
    problems = tar_again()
    assert "removed: tables/timings.csv" in problems and "added: tables/extra.csv" in problems
    assert any(problem.startswith("changed: figures/throughput.png") for problem in problems)


def test_compare_refuses_an_archive_without_its_timings(tmp_path: Path, capsys) -> None:
    """compare needs every repeat; an archive missing timings.csv is named, not half-compared."""
    a = pack(tmp_path, "20261122T000000Z-aaaa")
    b = pack(tmp_path, "20261122T010000Z-bbbb")
    rewrite(b, lambda members: members.pop("imgbench-20261122T010000Z-bbbb/tables/timings.csv"))
    assert cli.main(["compare", str(a), str(b)]) == 2
    error = capsys.readouterr().err
    assert "has no tables/timings.csv: not an imgbench archive" in error


def with_claims(tmp_path: Path, run_id: str, verdicts: list[str]) -> Path:
    """An archive whose claims table has these verdicts for claims 1, 2, ..."""
    files = results(tmp_path / run_id, run_id, repeats=3, scale={})
    table = pd.DataFrame(
        {
            "claim": range(1, len(verdicts) + 1),
            "id": [f"claim_{number}" for number in range(1, len(verdicts) + 1)],
            "tutorial_says": [f"the tutorial's claim {number}" for number in range(1, 4)],
            "verdict": verdicts,
            "measured": [f"{verdict} because" for verdict in verdicts],
        }
    )
    table.to_csv(tmp_path / run_id / "claims.csv", index=False)
    files["tables/claims.csv"] = tmp_path / run_id / "claims.csv"
    out = tmp_path / "archives" / result_archive.archive_name(run_id)
    result_archive.create(out, run_id, files)
    return out


def test_compare_lists_the_claims_whose_verdict_differs(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    a = with_claims(tmp_path, "20261122T000000Z-aaaa", ["holds", "does not hold", "holds"])
    b = with_claims(tmp_path, "20261122T010000Z-bbbb", ["holds", "inconclusive", "holds"])
    text = result_archive.compare(a, b)
    assert "Claims whose verdict differs (1 of 3):" in text
    assert "  2. the tutorial's claim 2" in text
    assert "     A: does not hold: does not hold because" in text
    assert "     B: inconclusive: inconclusive because" in text
    same = result_archive.compare(a, a)
    assert "Claims: all 3 verdicts are the same in both runs." in same
    old = pack(tmp_path / "old")
    assert "Claims: not compared (an archive from before the claims were checked)." in (
        result_archive.compare(old, a)
    )
