"""Rule append: a store built untimed, then 10% more images appended, timed, and read back."""

from pathlib import Path

from imgbench.appends import append_images
from imgbench.job_log import job_log
from imgbench.stores import configured_store

with job_log(snakemake.log[0]):
    append_images(
        configured_store(
            snakemake.wildcards.format,
            snakemake.wildcards.implementation,
            snakemake.wildcards.codec,
            snakemake.params.store,
        ),
        pool=Path(snakemake.input.pool),
        image_size=int(snakemake.wildcards.size),
        n_images=int(snakemake.wildcards.n),
        extra=snakemake.params.extra,
        scratch=Path(snakemake.params.scratch),
        table=Path(snakemake.output.table),
        record=Path(snakemake.output.record),
        repeats=snakemake.params.repeats,
        threads=snakemake.threads,
        discarded=snakemake.params.discarded and Path(snakemake.params.discarded),
    )
