"""imgbench: measure how fast and how compactly Python stores and reads back many small images.

`imgbench.open_store(path)` reads any store the pipeline built: `len(reader)`, `reader[i]` gives
`(image, label)` and `reader.read_many(indices)` reads many at once.
"""

from __future__ import annotations

__all__ = ["open_store"]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """`open_store`, imported on first use: importing a module of this package (as every pipeline
    job does) then runs none of the storage formats' code."""
    if name == "open_store":
        from imgbench.stores import open_store

        return open_store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
