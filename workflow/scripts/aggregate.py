"""Rule aggregate: concatenate per-job measurements into tidy tables and a summary."""

from pathlib import Path

from imgbench.job_log import job_log
from imgbench.tables import aggregate

with job_log(snakemake.log[0]):
    aggregate(
        timing_tables=[Path(path) for path in snakemake.input.timings],
        disk_tables=[Path(path) for path in snakemake.input.disk],
        provenance_record=Path(snakemake.input.provenance),
        timings=Path(snakemake.output.timings),
        disk=Path(snakemake.output.disk),
        summary=Path(snakemake.output.summary),
    )
