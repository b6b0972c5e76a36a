"""Rule extract_cifar: verify the CIFAR archive against its MD5 and extract its batches safely."""

from pathlib import Path

from imgbench.cifar import extract_verified_archive
from imgbench.job_log import job_log

with job_log(snakemake.log[0]):
    extract_verified_archive(
        archive=Path(snakemake.input.archive),
        checksum=Path(snakemake.input.checksum),
        out=Path(snakemake.output[0]),
    )
