"""Rule write_concurrent: W processes writing one store at once, for each configured W."""

from pathlib import Path

from imgbench.concurrent_writes import write_concurrently
from imgbench.job_log import job_log
from imgbench.stores import configured_store

with job_log(snakemake.log[0]):
    write_concurrently(
        configured_store(
            snakemake.wildcards.format,
            snakemake.wildcards.implementation,
            snakemake.wildcards.codec,
            snakemake.params.store,
        ),
        pool=Path(snakemake.input.pool),
        image_size=int(snakemake.wildcards.size),
        n_images=int(snakemake.wildcards.n),
        writers=list(snakemake.params.writers),
        scratch=Path(snakemake.params.scratch),
        table=Path(snakemake.output.table),
        record=Path(snakemake.output.record),
        repeats=snakemake.params.repeats,
        discarded=snakemake.params.discarded and Path(snakemake.params.discarded),
    )
