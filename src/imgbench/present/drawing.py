"""The figure job: one figure, by name, drawn by its family module from the tables the registry
names for it and written as every file type the workflow declares.

A family reads its tables with its `load_data(tables, presentations)` if it has one (the loader's
figures read the loader summary), else as `FigureData` (the summary and disk tables)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from imgbench.cells import presentations_from
from imgbench.present import parts
from imgbench.present.data import FigureData


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
    data = load(tables, presentations_from(presentations))
    write_figure(name, family, data, outputs)
    print("\n".join(map(str, outputs)))
