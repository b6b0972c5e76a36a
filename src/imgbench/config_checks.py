"""Checks of a config that its JSON schema cannot express, run when the workflow is parsed so a
bad value is refused before any job starts. No job imports this module: editing a check reruns no
measurement."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from imgbench.cells import BASELINE, BASELINE_FORMAT
from imgbench.cifar import training_images
from imgbench.errors import ConfigError
from imgbench.machine import nearest_existing
from imgbench.stores import formats, implementations


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


def check_repeats(repeats: Mapping[str, float]) -> None:
    """Refuse repeats whose minimum exceeds their maximum."""
    if repeats["min"] > repeats["max"]:
        raise ConfigError(
            f"`repeats.min` ({repeats['min']}) is above `repeats.max` ({repeats['max']}): "
            "raise `repeats.max` or lower `repeats.min`"
        )


def check_variations_for(reads: Mapping[str, object]) -> None:
    """Refuse implementation names in `reads.variations_for` that no format has (a typo would
    otherwise silently measure no variation)."""
    known = {BASELINE, *(one for name in formats() for one in implementations(name))}
    unknown = [one for one in reads["variations_for"] if one not in known]  # type: ignore[attr-defined]
    if unknown:
        raise ConfigError(
            f"`reads.variations_for` names {', '.join(map(repr, unknown))}, which no format "
            f"implements; known implementations: {', '.join(sorted(known))}"
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


def measured_stores(config: Mapping[str, object]) -> list[tuple[str, str]]:
    """Every (format, implementation) the config asks to measure: each configured format in each
    configured implementation it has, then the baseline. Refuses, before any job runs, a format
    no module defines and an implementation no configured format has."""
    configured: list[str] = list(config["methods"])  # type: ignore[call-overload]
    known = [name for name in formats() if name != BASELINE_FORMAT]
    unknown = [name for name in configured if name not in known]
    if unknown:
        raise ConfigError(
            f"`methods` names unknown storage format(s) {', '.join(map(repr, unknown))}; known: "
            f"{', '.join(known)} (one module each in src/imgbench/stores/; "
            f"{BASELINE_FORMAT!r} is measured by `baseline: true`)"
        )
    wanted: list[str] = list(config["implementations"])  # type: ignore[call-overload]
    offered = {name: implementations(name) for name in configured}
    missing = [one for one in wanted if not any(one in offer for offer in offered.values())]
    if missing:
        raise ConfigError(
            f"`implementations` names {', '.join(map(repr, missing))}, which no format in "
            f"`methods` has; they have: "
            + "; ".join(f"{name}: {', '.join(offer)}" for name, offer in offered.items())
        )
    without = [name for name, offer in offered.items() if not set(offer) & set(wanted)]
    if without:
        raise ConfigError(
            f"format(s) {', '.join(map(repr, without))} in `methods` have none of the "
            f"`implementations` {wanted}: add one they have, or drop them from `methods`"
        )
    stores = [(name, one) for name in configured for one in wanted if one in offered[name]]
    return stores + ([(BASELINE_FORMAT, BASELINE)] if config["baseline"] else [])
