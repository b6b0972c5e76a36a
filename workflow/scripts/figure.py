"""Rule figure: draw one figure from the tables, as PNG and SVG."""

from pathlib import Path

from imgbench.job_log import job_log
from imgbench.present.drawing import draw

with job_log(snakemake.log[0]):
    draw(
        name=snakemake.wildcards.figure,
        family=snakemake.params.family,
        summary=Path(snakemake.input.summary),
        disk=Path(snakemake.input.disk),
        presentations=dict(snakemake.params.presentations),
        outputs=[Path(snakemake.output.png), Path(snakemake.output.svg)],
    )
