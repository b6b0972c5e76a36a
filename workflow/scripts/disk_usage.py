"""Rule disk_usage: measure one store's allocated and apparent size with coreutils du."""

from pathlib import Path

from imgbench.jobs import disk_usage, run_job

run_job(
    snakemake.log[0],
    disk_usage,
    method=snakemake.wildcards.method,
    implementation=snakemake.wildcards.implementation,
    n_images=int(snakemake.wildcards.n),
    store=Path(snakemake.input.store),
    table=Path(snakemake.output.table),
)
