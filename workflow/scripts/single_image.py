"""Rule single_image: time the tutorial's one-image write and read for one format."""

from pathlib import Path

from imgbench.job_log import job_log
from imgbench.store_timings import single_image
from imgbench.stores import configured_store

with job_log(snakemake.log[0]):
    single_image(
        configured_store(
            snakemake.wildcards.format,
            snakemake.wildcards.implementation,
            snakemake.wildcards.codec,
            snakemake.params.store,
        ),
        pool=Path(snakemake.input.pool),
        image_size=int(snakemake.wildcards.size),
        scratch=Path(snakemake.params.scratch),
        table=Path(snakemake.output.table),
        repeats=snakemake.params.repeats,
        operations=snakemake.params.operations,
        threads=snakemake.threads,
        discarded=snakemake.params.discarded and Path(snakemake.params.discarded),
    )
