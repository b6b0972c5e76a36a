"""Names of the figures the pipeline draws, importable without matplotlib.

The workflow declares these as outputs when it parses, which must stay fast; drawing them is
`imgbench.plots`' job. Every name is written in every format on every run: a figure whose data
the run did not measure (no `tutorial` implementation, no raw baseline, no cold-cache reads...)
is still written, as a titled note saying what is missing.
"""

from pathlib import Path

FIGURES: tuple[str, ...] = (
    # The seven figures of the Real Python tutorial, one series per (method, implementation).
    "store_time_linear",
    "store_time_log",
    "read_time_linear",
    "read_time_log",
    "read_write_linear",
    "read_write_log",
    "disk_usage_stacked",
    # Comparisons between implementations and with the raw baseline.
    "throughput",
    "speedup_fast_vs_tutorial",
    "ratio_to_raw",
    # Read variations against the reference read cell, and the cost of durable writes.
    "cache_warm_cold",
    "order_sequential_random",
    "readers_1_2",
    "durability",
)
FORMATS: tuple[str, ...] = ("png", "svg")


def figure_paths(outdir: Path) -> list[Path]:
    """Every figure file `plots.plot_all` writes, in a fixed order."""
    return [outdir / f"{name}.{fmt}" for name in FIGURES for fmt in FORMATS]
