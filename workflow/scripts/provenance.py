"""Rule provenance: record the code, config, data, software and machine behind the results."""

from pathlib import Path

from imgbench.job_log import job_log
from imgbench.provenance import record_provenance

with job_log(snakemake.log[0]):
    record_provenance(
        project=Path(snakemake.params.project),
        config=dict(snakemake.params.config),
        thread_caps=dict(snakemake.params.thread_caps),
        format_facts=dict(snakemake.params.format_facts),
        # A folder of the user's images has no archive.
        archive_path=snakemake.input.get("archive") and Path(snakemake.input.archive),
        checksum=snakemake.input.get("checksum") and Path(snakemake.input.checksum),
        pool_records=[Path(path) for path in snakemake.input.pools],
        timing_tables=[Path(path) for path in snakemake.input.timings],
        disk_tables=[Path(path) for path in snakemake.input.disk],
        loader_tables=[Path(path) for path in snakemake.input.loaders],
        record=Path(snakemake.output.record),
        effective_config=Path(snakemake.output.config),
    )
