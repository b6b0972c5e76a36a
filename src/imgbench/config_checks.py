"""Checks of a config that its JSON schema cannot express, run when the workflow is parsed so a
bad value is refused before any job starts. Kept apart from the modules jobs depend on: editing a
check must not rerun a measurement."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from imgbench.dataset import training_images
from imgbench.errors import ConfigError
from imgbench.machine import nearest_existing


def check_cutoffs_fit(config: Mapping[str, object]) -> None:
    """Refuse, before any job runs, cutoffs the image pool cannot fill without repeating."""
    available = training_images(config["dataset"])  # type: ignore[arg-type]
    too_large = [n for n in config["cutoffs"] if n > available]  # type: ignore[attr-defined]
    if too_large and not config.get("repeat_pool", True):
        raise ConfigError(
            f"`cutoffs` {too_large} exceed the {available:,} training images and `repeat_pool` "
            "is false: lower those cutoffs, or set `repeat_pool: true` to repeat the images in "
            "order as the tutorial does"
        )


def check_stores_folder(stores: Mapping[str, object]) -> None:
    """Refuse, before any job runs, a `stores.folder` this machine could not create stores in.

    A node-local folder lives on the cluster's nodes, not here, so it is left to them.
    """
    if stores["node_local"]:
        return
    folder = Path(str(stores["folder"]))
    existing = nearest_existing(folder)
    if not existing.is_dir():
        problem = f"{existing} is a file, not a folder"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"this user cannot write in {existing}"
    else:
        return
    raise ConfigError(
        f"`stores.folder` is {str(folder)!r}, but {problem}: choose a folder you can write in "
        "(or set `stores.node_local: true` if it exists only on the cluster's nodes)"
    )
