"""Rule fetch_cifar: download (or copy the user's) CIFAR-10 archive and verify its MD5."""

from pathlib import Path

from imgbench.cifar import fetch_verified_archive
from imgbench.job_log import job_log

with job_log(snakemake.log[0]):
    fetch_verified_archive(
        archive=Path(snakemake.output.archive),
        checksum=Path(snakemake.output.checksum),
        md5=snakemake.params.md5,
        url=snakemake.params.url,
        local_archive=snakemake.params.local_archive,
        retries=snakemake.params.retries,
        timeout_seconds=snakemake.params.timeout_seconds,
    )
