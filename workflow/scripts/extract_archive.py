"""Rule extract_archive: verify the archive against its MD5 and extract its batches safely."""

from pathlib import Path

from imgbench.jobs import extract_archive, run_job

run_job(
    snakemake.log[0],
    extract_archive,
    archive=Path(snakemake.input.archive),
    checksum=Path(snakemake.input.checksum),
    out=Path(snakemake.output[0]),
)
