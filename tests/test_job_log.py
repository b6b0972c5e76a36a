"""How jobs run: expected failures are explained on the console, everything lands in the log."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgbench.errors import ChecksumError
from imgbench.job_log import job_log


def test_expected_failure_is_explained_on_the_console_and_logged(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_, job_log(tmp_path / "job.log"):
        print("working")
        raise ChecksumError("the archive has MD5 abc, but def was expected")
    assert exit_.value.code == 1
    assert "imgbench: the archive has MD5 abc" in capsys.readouterr().err
    log = (tmp_path / "job.log").read_text()
    assert "working" in log and "Traceback" in log and "imgbench: the archive has MD5" in log


def test_unexpected_failure_keeps_its_traceback_in_the_log(tmp_path: Path) -> None:
    with pytest.raises(KeyError), job_log(tmp_path / "job.log"):
        raise KeyError("surprise")
    assert "KeyError: 'surprise'" in (tmp_path / "job.log").read_text()


def test_output_goes_to_the_log(tmp_path: Path) -> None:
    with job_log(tmp_path / "job.log"):
        print("value=3")
    assert (tmp_path / "job.log").read_text() == "value=3\n"
