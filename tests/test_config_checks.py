"""Config checks the schema cannot express, refused before any job runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgbench import config_checks
from imgbench.config_checks import check_stores_folder, measured_stores
from imgbench.errors import ConfigError


def test_a_stores_folder_is_checked_here_only_when_it_is_not_node_local(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    folder = str(blocker / "stores")
    check_stores_folder({"folder": str(tmp_path / "new/stores"), "node_local": False})
    check_stores_folder({"folder": folder, "node_local": True})  # it lives on the nodes
    with pytest.raises(ConfigError, match="is a file, not a folder.*node_local"):
        check_stores_folder({"folder": folder, "node_local": False})
    assert not (tmp_path / "new").exists()


def formats_config(methods: list[str], implementations: list[str], baseline: bool = True) -> dict:
    return {"methods": methods, "implementations": implementations, "baseline": baseline}


def test_each_format_is_measured_in_the_configured_implementations_it_has(monkeypatch) -> None:
    assert measured_stores(formats_config(["hdf5", "png"], ["fast"])) == [
        ("hdf5", "fast"),
        ("png", "fast"),
        ("raw", "baseline"),
    ]
    offered = {"png": ("tutorial", "fast"), "hdf5": ("fast",)}  # as a format with `fast` only
    monkeypatch.setattr(config_checks, "implementations", offered.__getitem__)
    config = formats_config(["png", "hdf5"], ["tutorial", "fast"], baseline=False)
    assert measured_stores(config) == [("png", "tutorial"), ("png", "fast"), ("hdf5", "fast")]
    with pytest.raises(ConfigError, match=r"format\(s\) 'hdf5' in `methods` have none of"):
        measured_stores(formats_config(["png", "hdf5"], ["tutorial"]))
