"""Rule loader: epochs of one store through PyTorch's DataLoader, in every configured cell."""

from pathlib import Path

from imgbench.job_log import job_log
from imgbench.loader import load_store
from imgbench.stores import configured_store

with job_log(snakemake.log[0]):
    load_store(
        configured_store(
            snakemake.wildcards.format,
            snakemake.wildcards.implementation,
            snakemake.wildcards.codec,
            snakemake.params.store,
        ),
        pool=Path(snakemake.input.pool),
        n_images=int(snakemake.wildcards.n),
        store_dir=Path(snakemake.input.store_dir),
        table=Path(snakemake.output.table),
        repeats=snakemake.params.repeats,
        loader=snakemake.params.loader,
        threads=snakemake.threads,
    )
