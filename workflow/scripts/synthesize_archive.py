"""Rule synthesize_archive: make a CIFAR-format archive of synthetic photos for offline runs."""

from pathlib import Path

from imgbench.jobs import run_job, synthesize_archive

run_job(
    snakemake.log[0],
    synthesize_archive,
    archive=Path(snakemake.output.archive),
    checksum=Path(snakemake.output.checksum),
    images=snakemake.params.images,
    seed=snakemake.params.seed,
)
