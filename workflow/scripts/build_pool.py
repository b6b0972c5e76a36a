"""Rule build_pool: unpickle the training batches (restricted) into one NumPy image pool."""

from pathlib import Path

from imgbench.jobs import build_pool, run_job

run_job(
    snakemake.log[0], build_pool, batches=Path(snakemake.input[0]), out=Path(snakemake.output[0])
)
