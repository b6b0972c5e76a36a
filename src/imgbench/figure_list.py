"""Names of the figures the pipeline draws, importable without matplotlib.

The workflow declares these as outputs when it parses, which must stay fast; drawing them is
`imgbench.plots`' job.
"""

from pathlib import Path

FIGURES: tuple[str, ...] = (
    "store_time_linear",
    "store_time_log",
    "read_time_linear",
    "read_time_log",
    "read_write_linear",
    "read_write_log",
    "disk_usage_stacked",
)
FORMATS: tuple[str, ...] = ("png", "svg")


def figure_paths(outdir: Path) -> list[Path]:
    """Every figure file `plots.plot_all` writes, in a fixed order."""
    return [outdir / f"{name}.{fmt}" for name in FIGURES for fmt in FORMATS]
