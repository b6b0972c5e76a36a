"""Storage formats, one module each, found by name so that adding one touches no other.

A format is a module `imgbench.stores.<method>` defining `STORES`, a dict from implementation
name (e.g. "tutorial", "fast") to a `Store`.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path

from imgbench.errors import StoreError
from imgbench.stores.base import Reader, Store

__all__ = ["Reader", "Store", "formats", "get_store", "implementations", "open_store", "store_of"]

# When several implementations can read a store, `open_store` uses the first of these.
READ_PREFERENCE = ("fast", "baseline", "tutorial")


@cache
def formats() -> tuple[str, ...]:
    """Names of every format module in this package."""
    return tuple(
        sorted(
            info.name
            for info in pkgutil.iter_modules(__path__)
            if not info.name.startswith("_") and info.name != "base"
        )
    )


def _module_stores(method: str) -> dict[str, Store]:
    if method not in formats():
        raise StoreError(f"unknown storage format {method!r}; known: {', '.join(formats())}")
    return importlib.import_module(f"{__name__}.{method}").STORES


def implementations(method: str) -> tuple[str, ...]:
    return tuple(_module_stores(method))


def get_store(method: str, implementation: str) -> Store:
    stores = _module_stores(method)
    if implementation not in stores:
        raise StoreError(
            f"format {method!r} has no implementation {implementation!r}; "
            f"it has: {', '.join(stores)}"
        )
    return stores[implementation]


def store_of(path: Path) -> Store:
    """An implementation able to read the store at `path`, found by what the store contains."""
    path = Path(path)
    if not path.is_dir():
        raise StoreError(f"{path} is not a store folder (it does not exist or is not a folder)")
    readers = [
        store
        for method in formats()
        for store in _module_stores(method).values()
        if store.owns(path)
    ]
    if not readers:
        raise StoreError(f"{path} holds no recognisable store ({', '.join(formats())})")
    if len({store.method for store in readers}) > 1:
        raise StoreError(f"{path} looks like more than one format; it is not a store we built")
    rank = {name: position for position, name in enumerate(READ_PREFERENCE)}
    return min(readers, key=lambda store: rank.get(store.implementation, len(rank)))


def open_store(path: str | Path) -> Reader:
    """Open any store the pipeline built, whatever its format, for reading."""
    return store_of(Path(path)).open(Path(path))
