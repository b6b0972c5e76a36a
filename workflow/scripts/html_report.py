"""Rule html_report: Snakemake's self-contained HTML report of the finished run."""

from pathlib import Path

from imgbench.job_log import job_log
from imgbench.present.html_report import write_html_report

with job_log(snakemake.log[0]):
    write_html_report(
        snakefile=Path(snakemake.input.snakefile),
        effective_config=Path(snakemake.input.config),
        claims=Path(snakemake.input.claims),
        report=Path(snakemake.output[0]),
    )
