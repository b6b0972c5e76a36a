"""The figure job: one figure, by name, drawn by its family module from the summary and disk
tables and written as every file type the workflow declares."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from imgbench.cells import presentations_from
from imgbench.present import parts
from imgbench.present.data import FigureData
from imgbench.tables import read_table


def figure(name: str, family: str, data: FigureData) -> Figure:
    """Figure `name` as the module `imgbench.present.<family>` draws it."""
    drawers = importlib.import_module(f"imgbench.present.{family}").DRAWERS
    if name not in drawers:
        raise ValueError(
            f"family {family!r} draws no figure {name!r}; it draws: {', '.join(drawers)}"
        )
    return drawers[name](data)


def write_figure(name: str, family: str, data: FigureData, paths: Sequence[Path]) -> None:
    """Draw figure `name` and write it to each of `paths` (PNG, SVG)."""
    with parts.style_context():
        parts.save(figure(name, family, data), paths)


def draw(
    name: str,
    family: str,
    summary: Path,
    disk: Path,
    presentations: Mapping[str, Mapping[str, object]],
    outputs: Sequence[Path],
) -> None:
    """The figure job: the tables are checked before anything is drawn, so bad input leaves no
    partial output."""
    data = FigureData.of(
        read_table(summary),
        read_table(disk),
        presentations_from(presentations),
    )
    write_figure(name, family, data, outputs)
    print("\n".join(map(str, outputs)))
