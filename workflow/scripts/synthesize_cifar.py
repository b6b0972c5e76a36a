"""Rule synthesize_cifar: make a CIFAR-format archive of synthetic photos for offline runs."""

from pathlib import Path

from imgbench.job_log import job_log
from imgbench.synthetic import synthesize_archive

with job_log(snakemake.log[0]):
    synthesize_archive(
        archive=Path(snakemake.output.archive),
        checksum=Path(snakemake.output.checksum),
        images=snakemake.params.images,
        seed=snakemake.params.seed,
    )
