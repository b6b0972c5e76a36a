"""Rule pack_result_archive: the run's results, provenance and manifest as one .tar.gz."""

from pathlib import Path

from imgbench.job_log import job_log
from imgbench.result_archive import pack

names, paths = snakemake.params.names, snakemake.input.files
files = {name: Path(path) for name, path in zip(names, paths, strict=True)}
with job_log(snakemake.log[0]):
    pack(record=files["provenance.json"], files=files, out=Path(snakemake.output[0]))
