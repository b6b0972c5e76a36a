"""Rule figures: draw the tutorial's seven figures, as PNG and SVG, from the tables."""

from pathlib import Path

from imgbench.jobs import figures, run_job

run_job(
    snakemake.log[0],
    figures,
    summary=Path(snakemake.input.summary),
    disk=Path(snakemake.input.disk),
    outdir=Path(snakemake.output[0]).parent,
)
