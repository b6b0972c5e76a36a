"""Rule build_pool: unpickle the training batches (restricted) into one NumPy image pool."""

from pathlib import Path

from imgbench.batches import build_pool
from imgbench.job_log import job_log

with job_log(snakemake.log[0]):
    build_pool(Path(snakemake.input.batches), Path(snakemake.output[0]))
