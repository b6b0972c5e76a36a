"""Config checks the schema cannot express, refused before any job runs."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from imgbench import config_checks
from imgbench.config_checks import (
    check_loader,
    check_stores_folder,
    decode_floors,
    loaded_stores,
    loader_images,
    measured_stores,
)
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


def formats_config(
    methods: list[str],
    implementations: list[str],
    baseline: bool = True,
    codecs: dict[str, list[str]] | None = None,
    store_options: dict[str, dict[str, object]] | None = None,
) -> dict:
    return {
        "methods": methods,
        "implementations": implementations,
        "baseline": baseline,
        "codecs": codecs or {},
        "jpeg_quality": 90,
        "store_options": store_options or {},
    }


def test_each_format_is_measured_in_the_configured_implementations_it_has(monkeypatch) -> None:
    assert measured_stores(formats_config(["hdf5", "files"], ["fast"])) == [
        ("hdf5", "fast", "raw"),
        ("files", "fast", "png"),  # a format not in `codecs` holds its default codec
        ("raw", "baseline", "raw"),
    ]
    offered = {"files": ("tutorial", "fast"), "hdf5": ("fast",)}  # as a format with `fast` only
    monkeypatch.setattr(config_checks, "implementations", offered.__getitem__)
    config = formats_config(["files", "hdf5"], ["tutorial", "fast"], baseline=False)
    assert measured_stores(config) == [
        ("files", "tutorial", "png"),
        ("files", "fast", "png"),
        ("hdf5", "fast", "raw"),
    ]
    with pytest.raises(ConfigError, match=r"format\(s\) 'hdf5' in `methods` have none of"):
        measured_stores(formats_config(["files", "hdf5"], ["tutorial"]))


def test_each_codec_is_measured_in_the_implementations_that_hold_it() -> None:
    config = formats_config(
        ["files", "lmdb"],
        ["tutorial", "fast"],
        codecs={"files": ["png", "qoi"], "lmdb": ["raw", "jpeg"]},
    )
    stores = measured_stores(config)
    assert stores == [
        ("files", "tutorial", "png"),
        ("files", "fast", "png"),
        ("files", "fast", "qoi"),  # the tutorial holds PNG only
        ("lmdb", "tutorial", "raw"),
        ("lmdb", "fast", "raw"),
        ("lmdb", "fast", "jpeg"),
        ("raw", "baseline", "raw"),
    ]
    assert decode_floors(stores, baseline=True) == ["png", "qoi", "jpeg"]
    assert decode_floors(stores, baseline=False) == []
    assert decode_floors([("lmdb", "fast", "raw")], baseline=True) == []


def test_a_codec_no_configured_implementation_holds_is_refused() -> None:
    config = formats_config(["files"], ["tutorial"], codecs={"files": ["jpeg"]})
    with pytest.raises(ConfigError, match=r"of files holds jpeg images.*`codecs.files`"):
        measured_stores(config)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"codecs": {"hdf5": ["png"]}}, "`codecs.hdf5` names png, which hdf5 cannot hold"),
        ({"codecs": {"tiff": ["raw"]}}, "name unknown storage format(s) 'tiff'"),
        ({"store_options": {"gif": {}}}, "name unknown storage format(s) 'gif'"),
        ({"store_options": {"hdf5": {"chunks": 4}}}, "`store_options.hdf5` has an option"),
    ],
    ids=["codec-not-held", "codecs-of-unknown-format", "options-of-unknown-format", "bad-option"],
)
def test_codecs_and_store_options_are_checked(changes: dict, message: str) -> None:
    config = formats_config(["hdf5"], ["fast"]) | changes
    with pytest.raises(ConfigError, match=re.escape(message)):
        measured_stores(config)


def test_a_format_with_none_of_the_implementations_is_named_with_them() -> None:
    with pytest.raises(ConfigError) as refused:
        measured_stores(formats_config(["hdf5", "sqlite"], ["documented"]))
    message = str(refused.value)
    assert "'hdf5' in `methods` have none of the `implementations` ['documented']" in message
    assert "codecs.hdf5" not in message


def test_the_loader_without_torch_is_refused_naming_the_extra(monkeypatch) -> None:
    """Before any job, unless `loader.enabled` is false."""
    config = {
        "cutoffs": [10, 150],
        "loader": {"enabled": True, "n": None, "implementations": ["fast"]},
    }
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *rest: None if name == "torch" else real(name, *rest),
    )
    with pytest.raises(ConfigError, match=r"PyTorch is not installed: install .* `loader` extra"):
        check_loader(config)
    check_loader({**config, "loader": {**config["loader"], "enabled": False}})


def test_the_loader_reads_the_largest_cutoff_up_to_its_n() -> None:
    loader = {"enabled": True, "n": 1000, "implementations": ["fast", "parquet/documented"]}
    assert loader_images({"loader": loader}, [10, 100, 3000]) == 100
    assert loader_images({"loader": {**loader, "n": None}}, [10, 100, 3000]) == 3000
    stores = [
        ("lmdb", "fast", "raw"),
        ("lmdb", "tutorial", "raw"),
        ("parquet", "documented", "raw"),
    ]
    assert loaded_stores(stores, loader) == [stores[0], stores[2]]
    assert loaded_stores(stores, {**loader, "enabled": False}) == []
