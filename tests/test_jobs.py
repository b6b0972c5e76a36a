"""Job wrapper: expected failures are explained on the console, everything lands in the log."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgbench.errors import ChecksumError
from imgbench.jobs import run_job


def test_expected_failure_is_explained_on_the_console_and_logged(tmp_path: Path, capsys) -> None:
    def job() -> None:
        print("working")
        raise ChecksumError("the archive has MD5 abc, but def was expected")

    with pytest.raises(SystemExit) as exit_:
        run_job(tmp_path / "job.log", job)
    assert exit_.value.code == 1
    assert "imgbench: the archive has MD5 abc" in capsys.readouterr().err
    log = (tmp_path / "job.log").read_text()
    assert "working" in log and "Traceback" in log and "imgbench: the archive has MD5" in log


def test_unexpected_failure_keeps_its_traceback_in_the_log(tmp_path: Path) -> None:
    def job() -> None:
        raise KeyError("surprise")

    with pytest.raises(KeyError):
        run_job(tmp_path / "job.log", job)
    assert "KeyError: 'surprise'" in (tmp_path / "job.log").read_text()


def test_output_goes_to_the_log(tmp_path: Path) -> None:
    run_job(tmp_path / "job.log", lambda value: print(f"value={value}"), value=3)
    assert (tmp_path / "job.log").read_text() == "value=3\n"
