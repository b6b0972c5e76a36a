"""The figure job: one figure, by name, drawn by its family module from the tables the registry
names for it and written as every file type the workflow declares.

A family reads its tables with its `load_data(tables, presentations)` if it has one (the loader's
figures read the loader summary), else as `FigureData` (the summary and disk tables). A run of
several image sizes draws the figure once per size, faceted: the panels stacked under a heading
naming their size, in one PNG and one SVG. A run of one size draws it as it always was."""

from __future__ import annotations

import importlib
import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from imgbench.atomic_files import atomic_path
from imgbench.cells import image_sizes, of_image_size, presentations_from
from imgbench.present import parts
from imgbench.present.data import FigureData
from imgbench.tables import read_table


def figure(name: str, family: str, data: object) -> Figure:
    """Figure `name` as the module `imgbench.present.<family>` draws it."""
    drawers = importlib.import_module(f"imgbench.present.{family}").DRAWERS
    if name not in drawers:
        raise ValueError(
            f"family {family!r} draws no figure {name!r}; it draws: {', '.join(drawers)}"
        )
    return drawers[name](data)


def write_figure(name: str, family: str, data: object, paths: Sequence[Path]) -> None:
    """Draw figure `name` and write it to each of `paths` (PNG, SVG)."""
    with parts.style_context():
        parts.save(figure(name, family, data), paths)


def draw(
    name: str,
    family: str,
    tables: Mapping[str, Path],
    presentations: Mapping[str, Mapping[str, object]],
    outputs: Sequence[Path],
) -> None:
    """The figure job: the tables are checked before anything is drawn, so bad input leaves no
    partial output."""
    module = importlib.import_module(f"imgbench.present.{family}")
    load = getattr(module, "load_data", FigureData.load)
    looks = presentations_from(presentations)
    frames = {table: read_table(path) for table, path in tables.items()}
    sizes = image_sizes(*frames.values())
    if len(sizes) <= 1 or not getattr(module, "FACETED", True):
        write_figure(name, family, load(frames, looks), outputs)
    else:
        panels = [
            (size, load({key: of_image_size(frame, size) for key, frame in frames.items()}, looks))
            for size in sizes
        ]
        write_faceted(name, family, panels, outputs)
    print("\n".join(map(str, outputs)))


def write_faceted(
    name: str, family: str, panels: Sequence[tuple[int, object]], paths: Sequence[Path]
) -> None:
    """Figure `name` drawn for each image size, stacked top to bottom in each of `paths`."""
    rendered: dict[str, list[bytes]] = {path.suffix.lstrip("."): [] for path in paths}
    with parts.style_context():
        for size, data in panels:
            drawn = figure(name, family, data)
            drawn.text(0.005, 0.995, f"{size} × {size} px", ha="left", va="top", weight="bold")
            drawn.set_dpi(parts.DPI)
            drawn.draw_without_rendering()
            drawn.set_layout_engine("none")
            for file_type, files in rendered.items():
                buffer = io.BytesIO()
                drawn.savefig(
                    buffer, format=file_type, dpi=parts.DPI, metadata=parts.METADATA[file_type]
                )
                files.append(buffer.getvalue())
    for path in paths:
        file_type = path.suffix.lstrip(".")
        stacked = stack_png if file_type == "png" else stack_svg
        with atomic_path(path) as partial:
            partial.write_bytes(stacked(rendered[file_type]))


def stack_png(pngs: Sequence[bytes]) -> bytes:
    """PNG images one under another on white, as wide as the widest."""
    images = [np.asarray(Image.open(io.BytesIO(png)).convert("RGB")) for png in pngs]
    width = max(image.shape[1] for image in images)
    padded = [
        np.pad(image, ((0, 0), (0, width - image.shape[1]), (0, 0)), constant_values=255)
        for image in images
    ]
    buffer = io.BytesIO()
    Image.fromarray(np.concatenate(padded)).save(buffer, format="png", dpi=(parts.DPI,) * 2)
    return buffer.getvalue()


SVG_SIZE = re.compile(rb'<svg[^>]*?width="([0-9.]+)pt" height="([0-9.]+)pt"')


def stack_svg(svgs: Sequence[bytes]) -> bytes:
    """SVG drawings one under another, each kept whole as a nested <svg> element."""
    sizes = []
    bodies = []
    for svg in svgs:
        found = SVG_SIZE.search(svg)
        if found is None:
            raise ValueError("a drawn SVG has no width and height in pt")
        sizes.append((float(found[1]), float(found[2])))
        # From its <svg> element, without the XML prolog; sized in the outer drawing's units
        # (points), so it is not scaled again.
        body = svg[found.start() :]
        body = body.replace(b'pt" height="', b'" height="', 1).replace(
            b'pt" viewBox', b'" viewBox', 1
        )
        bodies.append(body)
    width = max(one for one, _ in sizes)
    height = sum(other for _, other in sizes)
    parts_out = [
        b'<?xml version="1.0" encoding="utf-8" standalone="no"?>\n'
        + f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{width}pt" height="{height}pt" viewBox="0 0 {width} {height}" '
        'version="1.1">\n'.encode()
    ]
    top = 0.0
    for (_, panel_height), body in zip(sizes, bodies, strict=True):
        parts_out.append(f'<g transform="translate(0 {top})">\n'.encode() + body + b"\n</g>\n")
        top += panel_height
    parts_out.append(b"</svg>\n")
    return b"".join(parts_out)
