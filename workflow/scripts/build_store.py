"""Rule build_store: write one store `repeats` times, timing each write, and keep the last."""

from pathlib import Path

from imgbench.jobs import build_store, run_job

run_job(
    snakemake.log[0],
    build_store,
    method=snakemake.wildcards.method,
    implementation=snakemake.wildcards.implementation,
    pool=Path(snakemake.input.pool),
    n_images=int(snakemake.wildcards.n),
    store=Path(snakemake.output.store),
    table=Path(snakemake.output.table),
    repeats=snakemake.params.repeats,
)
