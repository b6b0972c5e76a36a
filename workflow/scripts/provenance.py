"""Rule provenance: record the code, config, data, software and machine behind the results."""

from pathlib import Path

from imgbench.jobs import record_provenance, run_job

run_job(
    snakemake.log[0],
    record_provenance,
    code=dict(snakemake.params.code),
    config=dict(snakemake.params.config),
    archive_path=Path(snakemake.input.archive),
    checksum=Path(snakemake.input.checksum),
    result_tables=[Path(path) for path in [*snakemake.input.timings, *snakemake.input.disk]],
    disk_tables=[Path(path) for path in snakemake.input.disk],
    record=Path(snakemake.output.record),
    effective_config=Path(snakemake.output.config),
)
