"""Rule figure: draw one figure from the tables, as PNG and SVG."""

from pathlib import Path

from imgbench.job_log import job_log
from imgbench.present.drawing import draw

with job_log(snakemake.log[0]):
    draw(
        name=snakemake.wildcards.figure,
        family=snakemake.params.family,
        tables={name: Path(snakemake.input[name]) for name in snakemake.params.tables},
        presentations=dict(snakemake.params.presentations),
        outputs=[Path(snakemake.output.png), Path(snakemake.output.svg)],
    )
