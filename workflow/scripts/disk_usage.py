"""Rule disk_usage: measure one store's allocated and apparent size with coreutils du."""

from pathlib import Path

from imgbench.disk_usage import measure_store
from imgbench.job_log import job_log
from imgbench.stores import configured_store

with job_log(snakemake.log[0]):
    measure_store(
        configured_store(
            snakemake.wildcards.format,
            snakemake.wildcards.implementation,
            snakemake.wildcards.codec,
            snakemake.params.store,
        ),
        image_size=int(snakemake.wildcards.size),
        n_images=int(snakemake.wildcards.n),
        store_dir=Path(snakemake.input.store_dir),
        table=Path(snakemake.output.table),
    )
