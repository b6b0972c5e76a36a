"""Rule read_store: read one store back `repeats` times, timing and verifying every read."""

from pathlib import Path

from imgbench.jobs import read_store, run_job

run_job(
    snakemake.log[0],
    read_store,
    method=snakemake.wildcards.method,
    implementation=snakemake.wildcards.implementation,
    pool=Path(snakemake.input.pool),
    n_images=int(snakemake.wildcards.n),
    store=Path(snakemake.input.store),
    table=Path(snakemake.output.table),
    repeats=snakemake.params.repeats,
    caches=list(snakemake.params.caches),
    orders=list(snakemake.params.orders),
    readers=list(snakemake.params.readers),
    seed=snakemake.params.seed,
)
