"""Rule html_report: Snakemake's self-contained HTML report of the finished run."""

from pathlib import Path

from imgbench.jobs import html_report, run_job

run_job(
    snakemake.log[0],
    html_report,
    snakefile=Path(snakemake.params.snakefile),
    effective_config=Path(snakemake.input.config),
    report=Path(snakemake.output[0]),
)
