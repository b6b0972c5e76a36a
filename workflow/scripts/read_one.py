"""Rule read_one: a fresh process per repeat opens the store and reads one image; its memory."""

from pathlib import Path

from imgbench.job_log import job_log
from imgbench.read_one import read_one_image
from imgbench.stores import configured_store

with job_log(snakemake.log[0]):
    read_one_image(
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
    )
