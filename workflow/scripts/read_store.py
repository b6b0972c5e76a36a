"""Rule read_store: read one store back in every read cell, timing and verifying every read."""

from pathlib import Path

from imgbench.job_log import job_log
from imgbench.store_timings import read_store
from imgbench.stores import configured_store

with job_log(snakemake.log[0]):
    read_store(
        configured_store(
            snakemake.wildcards.format,
            snakemake.wildcards.implementation,
            snakemake.wildcards.codec,
            snakemake.params.store,
        ),
        pool=Path(snakemake.input.pool),
        image_size=int(snakemake.wildcards.size),
        n_images=int(snakemake.wildcards.n),
        store_dir=Path(snakemake.input.store_dir),
        table=Path(snakemake.output.table),
        repeats=snakemake.params.repeats,
        caches=list(snakemake.params.caches),
        orders=list(snakemake.params.orders),
        readers=list(snakemake.params.readers),
        seed=snakemake.params.seed,
        batch_size=snakemake.params.batch_size,
        threads=snakemake.threads,
    )
