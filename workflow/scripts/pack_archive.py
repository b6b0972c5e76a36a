"""Rule pack_archive: the run's results, provenance and manifest as one .tar.gz."""

from pathlib import Path

from imgbench.jobs import pack_archive, run_job

names, paths = snakemake.params.names, snakemake.input
files = {name: Path(path) for name, path in zip(names, paths, strict=True)}
run_job(
    snakemake.log[0],
    pack_archive,
    record=files["provenance.json"],
    files=files,
    out=Path(snakemake.output[0]),
)
