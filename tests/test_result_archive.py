"""Result archives: round trip, never overwritten, tampering named, runs compared."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from imgbench import cli, result_archive
from imgbench.errors import ResultArchiveError


def results(folder: Path, run_id: str, *, repeats: int, seconds: float) -> dict[str, Path]:
    """The files of a small run: a summary, a figure and a provenance record."""
    folder.mkdir()
    summary = pd.DataFrame(
        {
            "run_id": [run_id],
            "method": ["lmdb"],
            "implementation": ["fast"],
            "n_images": [1000],
            "operation": ["read_many"],
            "phase": ["read"],
            "cache": ["warm"],
            "order": ["sequential"],
            "readers": [1],
            "seconds_median": [seconds],
        }
    )
    summary.to_csv(folder / "summary.csv", index=False)
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
        "tables/summary.csv": folder / "summary.csv",
        "figures/throughput.png": folder / "throughput.png",
        "provenance.json": folder / "provenance.json",
    }


def pack(tmp_path: Path, run_id: str = "20261122T000000Z-aaaa", **kwargs) -> Path:
    out = tmp_path / "archives" / result_archive.archive_name(run_id)
    files = results(tmp_path / run_id, run_id, **{"repeats": 3, "seconds": 0.1, **kwargs})
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


def test_compare_gives_ratios_and_names_the_config_difference(tmp_path: Path) -> None:
    a = pack(tmp_path, "20261122T000000Z-aaaa", repeats=3, seconds=0.1)
    b = pack(tmp_path, "20261122T010000Z-bbbb", repeats=5, seconds=0.2)
    text = result_archive.compare(a, b)
    assert "config: repeats: 3 -> 5" in text
    row = next(line for line in text.splitlines() if line.strip().startswith("lmdb"))
    assert row.split()[-3:] == ["0.1", "0.2", "2"]  # median A, median B, B ÷ A
    assert "code:" not in text and "machine:" not in text
