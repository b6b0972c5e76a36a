"""Rule benchmark_report: the run's key ratios, checked against the targets, as Markdown."""

from pathlib import Path

from imgbench.jobs import benchmark_report, run_job

run_job(
    snakemake.log[0],
    benchmark_report,
    summary=Path(snakemake.input.summary),
    disk=Path(snakemake.input.disk),
    provenance_record=Path(snakemake.input.provenance),
    report=Path(snakemake.output[0]),
    config=dict(snakemake.params.config),
)
