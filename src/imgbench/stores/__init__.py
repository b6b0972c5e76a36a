"""Storage formats, one module each, found by name so that adding one touches no other.

A format is a module `imgbench.stores.<name>` defining `STORE`, an instance of `Store`.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path

from imgbench.errors import StoreError
from imgbench.stores.base import Reader, Store

__all__ = ["Reader", "Store", "available", "get_store", "open_store", "store_of"]


@cache
def available() -> tuple[str, ...]:
    """Names of every format module in this package."""
    return tuple(
        sorted(
            info.name
            for info in pkgutil.iter_modules(__path__)
            if not info.name.startswith("_") and info.name != "base"
        )
    )


def get_store(name: str) -> Store:
    if name not in available():
        raise StoreError(f"unknown storage format {name!r}; known: {', '.join(available())}")
    return importlib.import_module(f"{__name__}.{name}").STORE


def store_of(path: Path) -> Store:
    """The format of the store at `path`, recognised by the file only that format writes."""
    path = Path(path)
    if not path.is_dir():
        raise StoreError(f"{path} is not a store folder (it does not exist or is not a folder)")
    owners = [store for store in map(get_store, available()) if store.owns(path)]
    if len(owners) != 1:
        found = "no" if not owners else "more than one"
        raise StoreError(f"{path} holds {found} recognisable store ({', '.join(available())})")
    return owners[0]


def open_store(path: str | Path) -> Reader:
    """Open any store the pipeline built, whatever its format, for reading."""
    return store_of(Path(path)).open(Path(path))
