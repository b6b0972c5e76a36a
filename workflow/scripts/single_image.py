"""Rule single_image: time the tutorial's one-image write and read for one method."""

from pathlib import Path

from imgbench.jobs import run_job, single_image

run_job(
    snakemake.log[0],
    single_image,
    method=snakemake.wildcards.method,
    implementation=snakemake.wildcards.implementation,
    pool=Path(snakemake.input.pool),
    scratch=Path(snakemake.params.scratch),
    table=Path(snakemake.output.table),
    repeats=snakemake.params.repeats,
    operations=snakemake.params.operations,
)
