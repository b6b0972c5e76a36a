"""Checks of a config that its JSON schema cannot express, run when the workflow is parsed so a
bad value is refused before any job starts. No job imports this module: editing a check reruns no
measurement."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from imgbench.cells import BASELINE, BASELINE_FORMAT, RAW_CODEC, codec_rank
from imgbench.codecs import Codec
from imgbench.errors import ConfigError, StoreError
from imgbench.machine import nearest_existing
from imgbench.stores import codecs, formats, get_store, implementations


def check_dataset(dataset: Mapping[str, object]) -> None:
    """Refuse a folder source without an existing folder, and folder keys with another
    source."""
    if dataset["source"] == "folder" and not dataset.get("folder"):
        raise ConfigError(
            "`dataset.source` is folder but `dataset.folder` is not set: set it to your folder "
            "of images (one subfolder per class, or flat with `dataset.labels_csv`)"
        )
    if dataset["source"] == "folder" and not Path(str(dataset["folder"])).is_dir():
        raise ConfigError(
            f"`dataset.folder` is {dataset['folder']!r}: no such folder; point it at the folder "
            "holding your images (relative to the project, or absolute)"
        )
    if dataset["source"] != "folder" and dataset.get("labels_csv"):
        raise ConfigError(
            f"`dataset.labels_csv` is set but `dataset.source` is {dataset['source']}: set "
            "`dataset.source: folder` (and `dataset.folder`), or remove `labels_csv`"
        )


def check_cutoffs_fit(config: Mapping[str, object], available: int) -> None:
    """Refuse, before any job runs, cutoffs the `available` images cannot fill without
    repeating."""
    too_large = [n for n in config["cutoffs"] if n > available]  # type: ignore[attr-defined]
    if too_large and not config.get("repeat_pool", True):
        raise ConfigError(
            f"`cutoffs` {too_large} exceed the {available:,} training images and `repeat_pool` "
            "is false: lower those cutoffs, or set `repeat_pool: true` to repeat the images in "
            "order as the tutorial does"
        )


def pixel_bytes(side: int, count: int) -> int:
    """The raw RGB bytes of `count` images of `side` x `side` pixels."""
    return count * side * side * 3


def size_cutoffs(config: Mapping[str, object]) -> dict[int, list[int]]:
    """Each image size's cutoffs: those of `cutoffs` whose raw pixels fit `stores.max_gb`
    (all of them when it is null). Refuses a size no cutoff fits."""
    limit = config["stores"].get("max_gb")  # type: ignore[attr-defined]
    chosen = {}
    for side in config["image_sizes"]:  # type: ignore[attr-defined]
        fitting = [
            n
            for n in config["cutoffs"]  # type: ignore[attr-defined]
            if limit is None or pixel_bytes(side, n) <= limit * 1e9
        ]
        if not fitting:
            smallest = min(config["cutoffs"])  # type: ignore[type-var]
            raise ConfigError(
                f"at {side} px no cutoff fits `stores.max_gb` ({limit} GB): the smallest, "
                f"{smallest:,} images, holds {pixel_bytes(side, smallest) / 1e9:.2f} GB of "
                "pixels; raise `stores.max_gb`, add a smaller cutoff, or drop the size from "
                "`image_sizes`"
            )
        chosen[side] = fitting
    return chosen


def store_bytes_estimate(side: int, count: int) -> int:
    """An upper estimate of a store's disk use: its raw pixels and a tenth more for the format's
    own structure, and never under one 4 KiB block per image (a file per image takes one)."""
    return count * max(int(1.1 * side * side * 3), 4096)


def check_free_space(
    stores_folder: Path,
    planned: Mapping[Path, tuple[int, int]],
    pools: Mapping[Path, tuple[int, int]],
) -> None:
    """Refuse, before any job runs, a run whose stores and image pools (path -> (side, images))
    would not fit the free space where they are kept. Those already on disk need no more."""
    needed = sum(
        store_bytes_estimate(side, count)
        for path, (side, count) in [*planned.items(), *pools.items()]
        if not path.exists()
    )
    existing = nearest_existing(stores_folder)
    usage = os.statvfs(existing)
    free = usage.f_bavail * usage.f_frsize
    if needed > free:
        raise ConfigError(
            f"the stores and image pools this run keeps need about {needed / 1e9:.1f} GB, "
            f"{free / 1e9:.1f} GB free on the disk of `stores.folder` ({existing}): lower "
            "`cutoffs`, `image_sizes` or `stores.max_gb` (a store's size cap), or move "
            "`stores.folder` to a larger disk"
        )


def check_repeats(repeats: Mapping[str, float]) -> None:
    """Refuse repeats whose minimum exceeds their maximum."""
    if repeats["min"] > repeats["max"]:
        raise ConfigError(
            f"`repeats.min` ({repeats['min']}) is above `repeats.max` ({repeats['max']}): "
            "raise `repeats.max` or lower `repeats.min`"
        )


def check_variations_for(config: Mapping[str, Any]) -> None:
    """Refuse implementation names (or `format/implementation` pairs) in `reads.variations_for`
    that no format has (a typo would otherwise silently measure no variation)."""
    _check_implementation_names(
        config["reads"]["variations_for"], "reads.variations_for", config["methods"]
    )


def _known_implementations(names: Iterable[str]) -> set[str]:
    """The implementations of the formats `names`, alone and as `format/implementation`."""
    pairs = {f"{name}/{one}" for name in names for one in implementations(name)}
    return {BASELINE, *pairs, *(pair.split("/")[1] for pair in pairs)}


def _check_implementation_names(names: list[str], key: str, methods: list[str]) -> None:
    """Refuse names no format implements. They are looked up in the configured `methods`
    first, and in every format only if one is not found there: importing every format module
    (tar's imports PyTorch, through webdataset) would add seconds to each start of the
    workflow, and a cluster job starts it twice."""
    configured = [name for name in methods if name in formats()]  # others are refused later
    known = _known_implementations(configured)
    unknown = [one for one in names if one not in known]
    if unknown:
        known = _known_implementations(formats())
        unknown = [one for one in unknown if one not in known]
    if unknown:
        raise ConfigError(
            f"`{key}` names {', '.join(map(repr, unknown))}, which no format "
            f"implements; known implementations: "
            f"{', '.join(sorted(one for one in known if '/' not in one))}, or one format's "
            "as `format/implementation` (e.g. parquet/documented)"
        )


LOADER_EXTRA = (
    "install PyTorch with the project's `loader` extra (`pip install -e '.[loader]'`, which "
    "`make` runs; it pins the CPU build torch==2.13.0, see README.md), or set "
    "`loader.enabled: false` to leave the loader experiment out"
)


def check_loader(config: Mapping[str, object]) -> None:
    """Refuse, before any job runs, a loader experiment this machine or config cannot run:
    PyTorch missing, `loader.n` below every cutoff, unknown implementations."""
    loader: Mapping[str, object] = config["loader"]  # type: ignore[assignment]
    if not loader["enabled"]:
        return
    if importlib.util.find_spec("torch") is None:
        raise ConfigError(f"`loader.enabled` is true but PyTorch is not installed: {LOADER_EXTRA}")
    for side, cutoffs in size_cutoffs(config).items():
        if loader_images(config, cutoffs) is None:
            raise ConfigError(
                f"`loader.n` is {loader['n']}, below every cutoff at {side} px {cutoffs}: the "
                "loader reads the largest store up to `loader.n` images, so raise it (or set "
                "null for the largest cutoff)"
            )
    _check_implementation_names(
        loader["implementations"],  # type: ignore[arg-type]
        "loader.implementations",
        config["methods"],  # type: ignore[arg-type]
    )


def loader_images(config: Mapping[str, object], cutoffs: list[int]) -> int | None:
    """The images each loader cell reads at a size with `cutoffs`: the largest up to
    `loader.n` (null: the largest); None if every cutoff is above it."""
    most = config["loader"]["n"]  # type: ignore[index]
    fitting = [n for n in cutoffs if most is None or n <= most]
    return max(fitting) if fitting else None


def loaded_stores(
    stores: list[tuple[str, str, str]], loader: Mapping[str, object]
) -> list[tuple[str, str, str]]:
    """The measured stores the loader experiment reads: those of `loader.implementations`."""
    if not loader["enabled"]:
        return []
    named: list[str] = loader["implementations"]  # type: ignore[assignment]
    return [
        (name, implementation, codec)
        for name, implementation, codec in stores
        if implementation in named or f"{name}/{implementation}" in named
    ]


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


def measured_stores(config: Mapping[str, object]) -> list[tuple[str, str, str]]:
    """Every (format, implementation, codec) the config asks to measure: each configured format
    in each configured codec (`codecs`, else the format's default) and each configured
    implementation that can hold that codec, then the baseline. Refuses, before any job runs, a
    format no module defines, an implementation no configured format has, a codec a format
    cannot hold and store options a format does not take."""
    configured: list[str] = list(config["methods"])  # type: ignore[call-overload]
    known = [name for name in formats() if name != BASELINE_FORMAT]
    unknown = [name for name in configured if name not in known]
    unknown += [
        name
        for key in ("codecs", "store_options")
        for name in config[key]  # type: ignore[attr-defined]
        if name not in known and name not in unknown
    ]
    if unknown:
        raise ConfigError(
            f"`methods`, `codecs` or `store_options` name unknown storage format(s) "
            f"{', '.join(map(repr, unknown))}; known: {', '.join(known)} (one module each in "
            f"src/imgbench/stores/; {BASELINE_FORMAT!r} is measured by `baseline: true`)"
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
    stores = [
        store
        for name in configured
        for codec in _codecs_of(config, name)
        for store in _holding(config, name, codec, [one for one in wanted if one in offered[name]])
    ]
    return stores + ([(BASELINE_FORMAT, BASELINE, RAW_CODEC)] if config["baseline"] else [])


def _codecs_of(config: Mapping[str, object], name: str) -> list[str]:
    """The codecs format `name` is measured in, refusing one no implementation of it holds."""
    chosen = list(config["codecs"].get(name, [codecs(name)[0]]))  # type: ignore[attr-defined]
    held = codecs(name)
    refused = [codec for codec in chosen if codec not in held]
    if refused:
        raise ConfigError(
            f"`codecs.{name}` names {', '.join(refused)}, which {name} cannot hold; it holds "
            f"{', '.join(held)}"
        )
    return chosen


def _holding(
    config: Mapping[str, object], name: str, codec: str, wanted: list[str]
) -> list[tuple[str, str, str]]:
    """(name, implementation, codec) for each of the `wanted` implementations holding `codec`,
    checking the format's store options and the JPEG quality by building each store."""
    options = config["store_options"].get(name, {})  # type: ignore[attr-defined]
    chosen = []
    for implementation in wanted:
        store = get_store(name, implementation)
        if codec not in store.codecs:
            continue
        try:
            get_store(name, implementation, Codec(codec, config["jpeg_quality"]), **options)  # type: ignore[arg-type]
        except StoreError as error:
            raise ConfigError(str(error)) from error
        chosen.append((name, implementation, codec))
    if not chosen:
        raise ConfigError(
            f"no implementation in `implementations` ({', '.join(wanted)}) of {name} holds "
            f"{codec} images: add one that does, or drop {codec} from `codecs.{name}`"
        )
    return chosen


def decode_floors(stores: list[tuple[str, str, str]], baseline: bool) -> list[str]:
    """The encoded codecs among `stores`, whose decode floors the baseline measures."""
    if not baseline:
        return []
    return sorted({codec for _, _, codec in stores if codec != RAW_CODEC}, key=codec_rank)


def append_plan(settings: Mapping[str, object], largest: int, pool: int) -> tuple[int, int]:
    """The append experiment's store size and the images it adds: `claims.append.n` (at most the
    largest cutoff), less if the pool cannot hold the added `fraction` too."""
    fraction = float(settings["fraction"])  # type: ignore[arg-type]
    n = min(int(settings["n"]), largest, int(pool / (1 + fraction)))  # type: ignore[call-overload]
    return n, max(1, round(n * fraction))


def writer_stores(
    stores: list[tuple[str, str, str]], settings: Mapping[str, object]
) -> list[tuple[str, str, str]]:
    """The stores the concurrent-writers experiment writes: those of the implementations
    `claims.concurrent_writers.implementations` names, and the raw baseline (a container too)."""
    chosen = set(settings["implementations"])  # type: ignore[call-overload]
    return [store for store in stores if store[1] in chosen or store[1] == BASELINE]
