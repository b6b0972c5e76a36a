"""Config checks the schema cannot express, refused before any job runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgbench.config_checks import check_stores_folder
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
