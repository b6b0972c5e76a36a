"""Storage formats, one module each, found by name so that adding one touches no other file.

A format (a container) is a module `imgbench.stores.<name>` defining `STORES`, a dict from
implementation name (e.g. "tutorial", "fast") to a `Store`, each listing the codecs it can hold,
and optionally `PRESENTATION`, how the format is
shown (`imgbench.cells.Presentation`: label, colour, line marker, rank), and `FACTS`, what the
provenance record should say about the files it writes.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import asdict, replace
from functools import cache
from pathlib import Path
from types import ModuleType

from imgbench.cells import (
    FLOOR_FORMAT,
    FLOOR_PRESENTATION,
    LIMIT_FORMAT,
    LIMIT_PRESENTATION,
    Presentation,
)
from imgbench.codecs import DEFAULT_JPEG_QUALITY, Codec
from imgbench.errors import StoreError
from imgbench.stores.base import Reader, Store

__all__ = [
    "Reader",
    "Store",
    "codecs",
    "configured_store",
    "facts",
    "formats",
    "get_store",
    "implementations",
    "open_store",
    "presentation",
    "presentations",
    "store_of",
]

# When several implementations can read a store, `open_store` uses the first of these.
READ_PREFERENCE = ("fast", "baseline", "tutorial")
NOT_FORMATS = frozenset({"base"})  # modules of this package that hold no format


@cache
def formats() -> tuple[str, ...]:
    """Names of every format module in this package, found without importing any."""
    return tuple(
        sorted(
            info.name
            for info in pkgutil.iter_modules(__path__)
            if not info.name.startswith("_") and info.name not in NOT_FORMATS
        )
    )


def _module(name: str) -> ModuleType:
    if name not in formats():
        raise StoreError(f"unknown storage format {name!r}; known: {', '.join(formats())}")
    return importlib.import_module(f"{__name__}.{name}")


def implementations(name: str) -> tuple[str, ...]:
    return tuple(_module(name).STORES)


def get_store(
    name: str, implementation: str, codec: Codec | None = None, **options: object
) -> Store:
    """Implementation `implementation` of format `name`, holding `codec` (default: its first),
    with the format's `options` (see `Store.with_codec`)."""
    stores = _module(name).STORES
    if implementation not in stores:
        raise StoreError(
            f"format {name!r} has no implementation {implementation!r}; it has: {', '.join(stores)}"
        )
    store = stores[implementation]
    if codec is None and not options:
        return store
    return store.with_codec(codec or store.codec, **options)


def configured_store(
    name: str, implementation: str, codec: str, settings: Mapping[str, object]
) -> Store:
    """The store a job measures, from its wildcards and the `settings` its rule passes
    (`jpeg_quality`, None for other codecs, and the format's `options`)."""
    quality = settings.get("jpeg_quality") or DEFAULT_JPEG_QUALITY
    options = dict(settings.get("options") or {})  # type: ignore[call-overload]
    return get_store(name, implementation, Codec(codec, int(quality)), **options)  # type: ignore[call-overload]


def codecs(name: str) -> tuple[str, ...]:
    """Every codec some implementation of format `name` can hold, defaults first."""
    stores = _module(name).STORES.values()
    return tuple(dict.fromkeys(codec for store in stores for codec in store.codecs))


def presentation(name: str) -> Presentation:
    """How format `name` is shown; the defaults for a format without a module (an old table)."""
    if name == FLOOR_FORMAT:
        return FLOOR_PRESENTATION
    if name == LIMIT_FORMAT:
        return LIMIT_PRESENTATION
    if name not in formats():
        return Presentation()
    shown = getattr(_module(name), "PRESENTATION", Presentation())
    return replace(shown, codec=shown.codec or codecs(name)[0])


def facts(names: list[str]) -> dict[str, str]:
    """What the modules of formats `names` say about the files they write (`FACTS`, e.g. the
    Lance file format), for the provenance record."""
    return {
        key: value for name in names for key, value in getattr(_module(name), "FACTS", {}).items()
    }


def presentations(names: list[str]) -> dict[str, dict[str, object]]:
    """The presentation of each format as plain values, for a rule's params."""
    return {name: asdict(presentation(name)) for name in names}


def store_of(path: Path) -> Store:
    """An implementation able to read the store at `path`, found by what the store contains."""
    path = Path(path)
    if not path.is_dir():
        raise StoreError(f"{path} is not a store folder (it does not exist or is not a folder)")
    readers = [
        store for name in formats() for store in _module(name).STORES.values() if store.owns(path)
    ]
    if not readers:
        raise StoreError(f"{path} holds no recognisable store ({', '.join(formats())})")
    if len({store.format for store in readers}) > 1:
        raise StoreError(f"{path} looks like more than one format; it is not a store we built")
    rank = {name: position for position, name in enumerate(READ_PREFERENCE)}
    reader = min(readers, key=lambda store: rank.get(store.implementation, len(rank)))
    return reader.with_codec(Codec(reader.stored_codec(path)))


def open_store(path: str | Path) -> Reader:
    """Open any store the pipeline built, whatever its format, for reading."""
    return store_of(Path(path)).open(Path(path))
