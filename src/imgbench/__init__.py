"""imgbench: measure how fast and how compactly Python stores and reads back many small images.

`open_store(path)` reads any store the pipeline built: `len(reader)`, `reader[i]` gives
`(image, label)` and `reader.read_many(indices)` reads many at once.
"""

from imgbench.stores import open_store

__all__ = ["open_store"]
__version__ = "0.1.0"
