"""Zarr v3 in plain chunks of `imgbench.stores.zarr.CHUNK_IMAGES` images, no sharding: the layout
for reading a store in bulk, beside `zarr`'s sharded one for random access. Everything else (the
group, the codecs, zarr-python as `documented` and TensorStore as `fast`) is `zarr`'s; see there.
"""

from __future__ import annotations

from imgbench.cells import Presentation
from imgbench.stores.base import Store
from imgbench.stores.zarr import DocumentedZarrStore, FastZarrStore

PRESENTATION = Presentation(label="Zarr chunked", colour="darkslategray", rank=94)


class DocumentedChunkedZarrStore(DocumentedZarrStore):
    format = "zarr_chunked"
    sharded = False


class FastChunkedZarrStore(FastZarrStore):
    format = "zarr_chunked"
    sharded = False


STORES: dict[str, Store] = {
    "documented": DocumentedChunkedZarrStore(),
    "fast": FastChunkedZarrStore(),
}
