"""Rule aggregate_loader: the loader jobs' epochs as one tidy table and a summary per cell."""

from pathlib import Path

from imgbench.job_log import job_log
from imgbench.tables import aggregate_loader

with job_log(snakemake.log[0]):
    aggregate_loader(
        loader_tables=[Path(path) for path in snakemake.input.tables],
        provenance_record=Path(snakemake.input.provenance),
        epochs=Path(snakemake.output.epochs),
        summary=Path(snakemake.output.summary),
    )
