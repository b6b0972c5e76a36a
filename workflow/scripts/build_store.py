"""Rule build_store: write one store as `repeats` says, timing every write; keep the last."""

from pathlib import Path

from imgbench.job_log import job_log
from imgbench.store_timings import build_store
from imgbench.stores import configured_store

with job_log(snakemake.log[0]):
    build_store(
        configured_store(
            snakemake.wildcards.format,
            snakemake.wildcards.implementation,
            snakemake.wildcards.codec,
            snakemake.params.store,
        ),
        pool=Path(snakemake.input.pool),
        image_size=int(snakemake.wildcards.size),
        n_images=int(snakemake.wildcards.n),
        store_dir=Path(snakemake.output.store_dir),
        table=Path(snakemake.output.table),
        repeats=snakemake.params.repeats,
        threads=snakemake.threads,
        discarded=snakemake.params.discarded and Path(snakemake.params.discarded),
    )
